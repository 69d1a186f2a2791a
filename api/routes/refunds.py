"""POST /payments/{payment_order_id}/refunds and GET /refunds/{refund_id} (ADR 0014)."""

from __future__ import annotations

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
    PaymentOrderIdPath,
    RefundIdPath,
    ServicesDep,
)
from payments.api.problems import ProblemError
from payments.api.refund_schemas import RefundRequestBody, refund_body
from payments.api.schemas import RefundResponse
from payments.domain.api_key import Role
from payments.domain.errors import FieldError, InvalidCommand
from payments.domain.money import Money, MoneyError
from payments.domain.refund_commands import RefundPlacement, RequestRefund, refund_id_for_key
from payments.runtime.idempotency import StoredResponse
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
        "/refunds/{refund_id:str}",
        **spec("getRefund", "A refund's current state", problems=(404, 422)),
        description="Read from the event store: right after the POST that created it, never a 404.",
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE),
    )
    def get_refund(self, refund_id: RefundIdPath, services: ServicesDep) -> RefundResponse:
        return refund_body(services.refunds.get(refund_id))
