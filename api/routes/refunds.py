"""POST /payments/{payment_order_id}/refunds, GET /refunds (newest first, filtered) and GET
/refunds/{refund_id} (ADR 0014)."""

from __future__ import annotations

from typing import Annotated

from eventsourcing.persistence import IntegrityError
from litestar import Controller, Response, get, post
from litestar.params import JSONBody

from payments.api.auth import access
from payments.api.idempotency import OnceDep, fingerprint, idempotency_key_guard, stored_answer
from payments.api.openapi import (
    created_or_existing,
    created_or_replayed,
    link,
    spec,
    write_headers,
)
from payments.api.parameters import (
    CallerDep,
    IdQuery,
    LimitQuery,
    PaymentOrderIdPath,
    PositionCursorQuery,
    RefundIdPath,
    ServicesDep,
    one_of,
)
from payments.api.problems import ProblemError
from payments.api.reads import FreshDep, ensure_fresh, newest_page, seller_scope
from payments.api.refund_schemas import (
    RefundPage,
    RefundRequestBody,
    ShownStatus,
    refund_body,
    statuses_shown_as,
)
from payments.api.schemas import RefundResponse
from payments.domain.api_key import Role
from payments.domain.errors import FieldError, InvalidCommand
from payments.domain.ids import refund_uuid
from payments.domain.money import Money, MoneyError
from payments.domain.refund_commands import RefundPlacement, RequestRefund, refund_id_for_key
from payments.projections.views.refunds import RefundsView
from payments.runtime.idempotency import StoredResponse
from payments.runtime.keys import Caller
from payments.runtime.services import Services

CREATE_SCOPE = "POST /payments/{payment_order_id}/refunds"
MAX_BODY_BYTES = 4 * 1024
_READ_BACK = {
    "getRefund": link(
        "getRefund",
        "Read the refund back (at once: never a 404)",
        refund_id="$response.body#/refund_id",
    ),
}
_CREATED_HEADERS = write_headers("The refund's URL, /refunds/{refund_id}")
RefundStatusQuery = Annotated[
    str | None, one_of(ShownStatus, "Only refunds in this status (PENDING: not final yet).")
]
LIST_DESCRIPTION = (
    "Found in the refunds view, each item read from the refund's own events (as GET "
    "/refunds/{refund_id} answers it). Filters: status, payment_order_id, seller_account. "
    "Keyset pagination: limit (1-200, default 50) and the opaque cursor from next_cursor. The "
    "view follows the log within moments; pass the position a command answered with as "
    "?min_position= to wait for it. A seller key lists its own seller's refunds (another "
    "seller_account: 404)."
)


def amount_minor_of(text: str | None, currency: str) -> int | None:
    if text is None:
        return None
    try:
        amount = Money.parse(text, currency)
    except MoneyError as error:
        raise InvalidCommand([FieldError("amount", str(error))]) from None
    if amount.minor <= 0:
        raise InvalidCommand([FieldError("amount", "must be greater than zero")])
    return amount.minor


def request_refund(services: Services, command: RequestRefund) -> RefundPlacement:
    try:
        return services.refunds.request_refund(command)
    except IntegrityError:
        raise ProblemError(
            409,
            "concurrent-refunds",
            "Other refunds of this order are being written",
            "Too many concurrent writes to this order; retry with the same Idempotency-Key.",
            headers={"retry-after": "1"},
        ) from None


def _placement_response(placement: RefundPlacement) -> StoredResponse:
    refund = placement.refund
    return stored_answer(
        201 if placement.created else 200,
        refund_body(refund),
        f"/refunds/{refund.refund_id}",
        placement.position,
    )


def list_refunds(
    services: Services,
    caller: Caller,
    where: dict[str, str | None],
    page: tuple[int, str | None],
    min_position: int | None = None,
) -> RefundPage:
    """Refunds newest first from the refunds view, each as GET /refunds/{id} answers it;
    `where` names status (as the API shows it), payment_order_id and seller_account."""
    view = RefundsView(services.pool)
    ensure_fresh(services, view, min_position)
    wanted = {
        "status": statuses_shown_as(where.get("status")),
        "payment_order_id": where.get("payment_order_id"),
        "seller_account": seller_scope(caller, where.get("seller_account")),
    }
    found, next_cursor = newest_page(services, view, wanted, page, refund_uuid)
    return RefundPage(items=[refund_body(refund) for refund in found], next_cursor=next_cursor)


class RefundsController(Controller):
    tags = ["refunds"]

    @post(
        "/payments/{payment_order_id:str}/refunds",
        **spec(
            "createRefund",
            "Refund a captured order, in part or in full",
            problems=(404, 409, 413, 422),
            answers=created_or_existing(
                RefundResponse, "Created: the refund, PENDING", "The refund this key created before"
            ),
        ),
        description="Reserves the amount (default: everything left to refund) on the order and "
        "creates the refund in one atomic save; the executor refunds it at the PSP exactly "
        "once (status PENDING, then SUCCEEDED or FAILED; a failed refund's amount is "
        "refundable again). Needs Idempotency-Key. 404 for an unknown order; 409 for an "
        "order that is not SUCCESS (never captured, or not yet); 422 for an amount that is "
        "not a positive amount with the currency's decimals within what is left to refund, "
        "or a bad reason. Nothing is written then.",
        status_code=201,
        before_request=idempotency_key_guard,
        request_max_body_size=MAX_BODY_BYTES,
        operation_class=created_or_replayed(_READ_BACK, _CREATED_HEADERS),
        **access(Role.MERCHANT),
    )
    def create_refund(
        self,
        payment_order_id: PaymentOrderIdPath,
        data: JSONBody[RefundRequestBody],
        services: ServicesDep,
        once: OnceDep,
    ) -> Response[bytes]:
        command = RequestRefund(
            refund_id=refund_id_for_key(once.id_seed),
            payment_order_id=payment_order_id,
            amount_minor=amount_minor_of(data.amount, services.settings.currency),
            reason=data.reason,
            requested_by=once.caller.key_id,
        )
        return once.run(
            CREATE_SCOPE,
            fingerprint([payment_order_id, data]),
            lambda: _placement_response(request_refund(services, command)),
        )

    @get(
        "/refunds",
        **spec(
            "listRefunds",
            "Refunds, newest first, by status, order and seller (keyset paging)",
            problems=(404, 422, 503),
        ),
        description=LIST_DESCRIPTION,
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE, Role.SELLER),
    )
    def list_refunds(
        self,
        services: ServicesDep,
        caller: CallerDep,
        status: RefundStatusQuery = None,
        payment_order_id: IdQuery = None,
        seller_account: IdQuery = None,
        limit: LimitQuery = 50,
        cursor: PositionCursorQuery = None,
        *,
        fresh: FreshDep,
    ) -> RefundPage:
        where = {
            "status": status,
            "payment_order_id": payment_order_id,
            "seller_account": seller_account,
        }
        return list_refunds(services, caller, where, (limit, cursor), fresh.min_position())

    @get(
        "/refunds/{refund_id:str}",
        **spec("getRefund", "A refund's current state", problems=(404, 422)),
        description="Read from the event store: right after the POST that created it, never a 404.",
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE),
    )
    def get_refund(self, refund_id: RefundIdPath, services: ServicesDep) -> RefundResponse:
        return refund_body(services.refunds.get(refund_id))
