"""POST /payouts, GET /payouts (newest first, filtered), GET /payouts/{payout_id} (ADR 0006)."""

from __future__ import annotations

import logging
from datetime import datetime

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import JSONBody

from payments.api.auth import access
from payments.api.idempotency import OnceDep, fingerprint, idempotency_key_guard, stored_answer
from payments.api.openapi import created_or_existing, operation, spec, write_headers
from payments.api.parameters import (
    CallerDep,
    IdQuery,
    LimitQuery,
    PayoutIdPath,
    PayoutStatusQuery,
    PositionCursorQuery,
    ServicesDep,
)
from payments.api.reads import newest_page, seller_scope
from payments.api.routes.refunds import amount_minor_of
from payments.api.schemas import AmountText, Identifier
from payments.domain.api_key import Role
from payments.domain.errors import NotFound
from payments.domain.ids import payout_uuid
from payments.domain.payout import Payout
from payments.domain.payout_commands import PayoutPlacement, RequestPayout, payout_id_for_key
from payments.projections.views.payouts import PayoutFilter, PayoutsView
from payments.runtime.idempotency import StoredResponse
from payments.runtime.keys import Caller
from payments.runtime.services import Services

log = logging.getLogger("payments.payouts")
CREATE_SCOPE = "POST /payouts"
MAX_BODY_BYTES = 4 * 1024


class PayoutRequestBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /payouts body: a seller, and an amount (default: everything available)."""

    seller_account: Identifier
    amount: AmountText | None = None


class PayoutResponse(msgspec.Struct, frozen=True):
    payout_id: str
    seller_account: str
    amount: str
    currency: str
    status: str
    run_id: str | None
    attempts: int
    psp_reference: str | None
    failure_reason: str | None
    last_error: str | None
    dead_lettered: bool
    created_at: datetime
    updated_at: datetime
    position: int | None = None


def payout_body(payout: Payout, position: int | None = None) -> PayoutResponse:
    return PayoutResponse(
        payout_id=payout.payout_id,
        seller_account=payout.seller_account,
        amount=payout.amount.format(),
        currency=payout.currency,
        status=payout.status.value,
        run_id=payout.run_id,
        attempts=payout.attempts,
        psp_reference=payout.psp_reference,
        failure_reason=payout.failure_reason,
        last_error=payout.last_error,
        dead_lettered=payout.dead_lettered,
        created_at=payout.created_on,
        updated_at=payout.modified_on,
        position=position,
    )


def read_payout(services: Services, caller: Caller, payout_id: str) -> PayoutResponse:
    payout = services.application.get_payout(payout_id)
    if not caller.may_read_seller(payout.seller_account):
        raise NotFound(f"payout {payout_id!r} not found")  # another seller's: not revealed
    return payout_body(payout)


class PayoutPage(msgspec.Struct, frozen=True):
    """GET /payouts answer: newest first; pass next_cursor as ?cursor= for the next page."""

    items: list[PayoutResponse]
    next_cursor: str | None


def list_payouts(
    services: Services, caller: Caller, where: PayoutFilter, limit: int, cursor: str | None
) -> PayoutPage:
    """Payouts newest first from the payouts view, each as GET /payouts/{id} answers it. A
    seller key lists its own seller's only; asking for another's is Not found."""
    wanted = {
        "seller_account": seller_scope(caller, where.seller_account),
        "status": where.status,
    }
    view = PayoutsView(services.pool)
    found, next_cursor = newest_page(services, view, wanted, (limit, cursor), payout_uuid)
    return PayoutPage(items=[payout_body(payout) for payout in found], next_cursor=next_cursor)


def request_payout(services: Services, command: RequestPayout) -> PayoutPlacement:
    """Release what is due and credit what the log says first (if no other process is at it),
    then reserve and create."""
    services.catch_up_wallets()
    return services.payouts.request_payout(command)


def _placement_response(placement: PayoutPlacement) -> StoredResponse:
    payout, position = placement.payout, placement.position
    return stored_answer(
        201 if placement.created else 200,
        payout_body(payout, position),
        f"/payouts/{payout.payout_id}",
        position,
    )


class PayoutsController(Controller):
    path = "/payouts"
    tags = ["payouts"]

    @post(
        "/",
        **spec(
            "createPayout",
            "Pay a seller's available balance out through the PSP",
            problems=(409, 413, 422),
            answers=created_or_existing(
                PayoutResponse,
                "Created: the payout, REQUESTED",
                "The payout this key created before",
            ),
        ),
        description="Reserves the amount (default: everything available) on the seller's "
        "wallet and creates the payout in one atomic save; the executor pays it at the PSP. "
        "Needs Idempotency-Key. 422 when the amount is not a positive amount within the "
        "available balance; nothing is written then.",
        status_code=201,
        before_request=idempotency_key_guard,
        request_max_body_size=MAX_BODY_BYTES,
        operation_class=operation(headers={201: write_headers("The payout's URL")}),
        **access(Role.OPERATOR),
    )
    def create_payout(
        self, data: JSONBody[PayoutRequestBody], services: ServicesDep, once: OnceDep
    ) -> Response[bytes]:
        amount = amount_minor_of(data.amount, services.settings.currency)
        command = RequestPayout(
            payout_id_for_key(once.id_seed),
            data.seller_account,
            amount,
            requested_by=once.caller.key_id,
        )
        return once.run(
            CREATE_SCOPE,
            fingerprint(data),
            lambda: _placement_response(request_payout(services, command)),
        )

    @get(
        "/",
        **spec(
            "listPayouts",
            "Payouts, newest first, by seller and status (keyset paging)",
            problems=(404, 422),
        ),
        description="Read from the payouts view; each item as GET /payouts/{payout_id} "
        "answers it. Filters: seller_account, status. Keyset pagination: limit (1-200, "
        "default 50) and the opaque cursor from next_cursor. A seller key lists its own "
        "seller's payouts; another seller_account is 404.",
        **access(Role.OPERATOR, Role.FINANCE, Role.SELLER),
    )
    def list_payouts(
        self,
        services: ServicesDep,
        caller: CallerDep,
        seller_account: IdQuery = None,
        status: PayoutStatusQuery = None,
        limit: LimitQuery = 50,
        cursor: PositionCursorQuery = None,
    ) -> PayoutPage:
        return list_payouts(services, caller, PayoutFilter(seller_account, status), limit, cursor)

    @get(
        "/{payout_id:str}",
        **spec("getPayout", "A payout's current state", problems=(404, 422)),
        **access(Role.OPERATOR, Role.FINANCE, Role.SELLER),
    )
    def get_payout(
        self, payout_id: PayoutIdPath, services: ServicesDep, caller: CallerDep
    ) -> PayoutResponse:
        return read_payout(services, caller, payout_id)
