"""Refund bodies (POST /payments/{id}/refunds, GET /refunds/{id}) and the refund fields of an
order's answer, read from the Refund and PaymentOrder aggregates (never a view: an answer
right after the POST that created a refund always holds it)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from payments.api.schemas import AmountText, PaymentOrderResponse, RefundResponse, ShortReason
from payments.domain.ids import payment_order_uuid, refund_uuid
from payments.domain.money import format_minor
from payments.domain.payment_order import PaymentOrder
from payments.domain.refund import Refund, RefundStatus
from payments.runtime.services import Services

A = TypeVar("A", PaymentOrder, Refund)


class RefundRequestBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /payments/{payment_order_id}/refunds body: both fields optional."""

    amount: AmountText | None = None  # None: everything that is left to refund
    reason: ShortReason | None = None


class ShownStatus(Enum):
    """A refund's status as the API shows it: PENDING until the PSP's final word."""

    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


API_STATUS = {
    RefundStatus.REQUESTED.value: ShownStatus.PENDING,
    RefundStatus.EXECUTING.value: ShownStatus.PENDING,
    RefundStatus.SUCCEEDED.value: ShownStatus.SUCCEEDED,
    RefundStatus.FAILED.value: ShownStatus.FAILED,
}


def statuses_shown_as(shown: str | None) -> list[str] | None:
    """The refund statuses the API shows as `shown` (None: any)."""
    if shown is None:
        return None
    return [status for status, api in API_STATUS.items() if api.value == shown]


class RefundPage(msgspec.Struct, frozen=True):
    """GET /refunds answer: newest first; pass next_cursor as ?cursor= for the next page."""

    items: list[RefundResponse]
    next_cursor: str | None


def refund_body(refund: Refund) -> RefundResponse:
    return RefundResponse(
        refund_id=refund.refund_id,
        payment_order_id=refund.payment_order_id,
        seller_account=refund.seller_account,
        amount=refund.amount.format(),
        currency=refund.currency,
        status=API_STATUS[refund.status.value].value,
        reason=refund.reason,
        created_at=refund.created_on,
        failure_reason=refund.failure_reason,
    )


def with_refunds(
    services: Services, answer: PaymentOrderResponse, as_of: datetime | None = None
) -> PaymentOrderResponse:
    """The order's answer with `refunded`, `refundable` and `refunds`, from the aggregates
    (the order and its refunds: a few events each), so they are as fresh as the last write;
    with `as_of`, as they stood then (replayed from the events recorded at or before it)."""
    order = _load(services, PaymentOrder, payment_order_uuid(answer.payment_order_id), as_of)
    if order is None:
        return answer
    refunds = [_load(services, Refund, refund_uuid(i), as_of) for i in order.refund_ids]
    return msgspec.structs.replace(
        answer,
        refunded=format_minor(order.refunded_minor, order.currency),
        refundable=format_minor(order.refundable_minor, order.currency),
        refunds=[refund_body(refund) for refund in refunds if refund is not None],
    )


def _load(
    services: Services, kind: type[A], aggregate_id: UUID, as_of: datetime | None
) -> A | None:
    if as_of is None:
        return services.application.find(kind, aggregate_id)
    aggregate: Any = None
    for stored in services.application.events.get(aggregate_id):
        event: Any = stored
        if event.timestamp > as_of:
            break  # an aggregate's events are causal: none later is earlier
        aggregate = event.mutate(aggregate)
    return aggregate if isinstance(aggregate, kind) else None
