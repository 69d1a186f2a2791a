"""`?as_of=` on GET /payments/{id}, /ledger/accounts/{account}, /ledger/trial-balance and
/wallets/{seller}: answers as of an instant, replayed from history (docs/audit.md, ADR 0007).
"""

from __future__ import annotations

from datetime import datetime

from payments.api.problems import ProblemError
from payments.api.reads import invalid, not_found, order_response
from payments.api.refund_schemas import with_refunds
from payments.api.schemas import PaymentOrderResponse
from payments.projections.audit.as_of import order_as_of
from payments.projections.audit.instants import AsOfUnavailable, InstantError, parse_instant
from payments.runtime.services import Services


def parse_as_of(text: str | None) -> datetime | None:
    """The as_of parameter as an aware UTC instant; 422 naming `as_of` when unusable."""
    if text is None:
        return None
    try:
        return parse_instant(text)
    except InstantError as error:
        raise invalid("as_of", str(error)) from None


def as_of_unavailable(error: AsOfUnavailable) -> ProblemError:
    return ProblemError(
        503,
        "view-not-caught-up",
        "The view has not caught up yet",
        f"{error}; an as-of answer is never computed from a view that lags.",
        headers={"retry-after": "1"},
    )


def read_order_as_of(
    services: Services, payment_order_id: str, instant: datetime
) -> PaymentOrderResponse:
    found = order_as_of(services.pool, services.application, payment_order_id, instant)
    if found is None:
        raise not_found(f"payment order {payment_order_id!r} as of {instant.isoformat()}")
    answer = order_response(
        found.row, ledger_updated=found.ledger_updated, wallet_updated=found.wallet_updated
    )
    return with_refunds(services, answer, as_of=instant)
