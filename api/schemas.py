"""Request and response bodies: strict msgspec Structs (unknown fields refused)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from payments.api.dispute_schemas import DisputeResponse
from payments.domain.errors import FieldError, InvalidCommand
from payments.domain.reasons import MAX_REASON, REASON_PATTERN, REASON_RULE
from payments.domain.reconciliation.resolutions import MAX_REASON as MAX_RESOLUTION_REASON
from payments.domain.refund_commands import MAX_REASON_LENGTH as MAX_REFUND_REASON

Identifier = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="1-64 characters: ASCII letters, digits, '_' and '-'.",
    ),
]
AmountText = Annotated[
    str,
    Meta(
        max_length=32,
        description='Decimal string in major units, at most the currency\'s decimals: "10.50".',
        examples=["10.50"],
    ),
]
CurrencyCode = Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")]


def _reason(max_length: int, example: str) -> Meta:
    """An operator's reason (domain/reasons.py) of at most `max_length` characters."""
    return Meta(
        min_length=1,
        max_length=max_length,
        pattern=REASON_PATTERN,
        description=f"Why, in 1-{max_length} characters: {REASON_RULE}.",
        examples=[example],
    )


# A span of time as a request gives one: `24h`, `30m`, `7d`, `0s` (a key's grace, a webhook
# secret's overlap); each route states its own bounds.
DURATION = re.compile(r"^(\d{1,7})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
Duration = Annotated[str, Meta(pattern=DURATION.pattern)]


def duration(text: str, field: str) -> timedelta:
    """The span a Duration names (its pattern has been checked: anything else is a 422)."""
    match = DURATION.fullmatch(text)
    if match is None:
        raise InvalidCommand([FieldError(field, "a number and s, m, h or d, e.g. 24h")])
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


ShortReason = Annotated[str, _reason(MAX_REFUND_REASON, "damaged in transit")]
Reason = Annotated[str, _reason(MAX_REASON, "checked with the PSP's support")]
LongReason = Annotated[str, _reason(MAX_RESOLUTION_REASON, "the PSP's fee schedule changed")]


class CreditCardInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A PSP token for the card (never the card number or CVC), and optional display details."""

    token: Annotated[
        str,
        Meta(
            min_length=4,
            max_length=128,
            pattern=r"^[A-Za-z0-9_]+$",
            description="The PSP's card token, e.g. tok_... from POST /v1/tokens at the PSP.",
        ),
    ]
    brand: Annotated[str, Meta(max_length=16, pattern=r"^[a-z_]+$")] | None = None
    last4: Annotated[str, Meta(pattern=r"^[0-9]{4}$")] | None = None
    exp_month: Annotated[int, Meta(ge=1, le=12)] | None = None
    exp_year: Annotated[int, Meta(ge=2000, le=2100)] | None = None
    fingerprint: (
        Annotated[
            str,
            Meta(
                min_length=8,
                max_length=128,
                pattern=r"^[A-Za-z0-9_]+$",
                description="The PSP's fingerprint of the card (POST /v1/tokens answers it): "
                "velocity and blocklist rules count the card by it (docs/risk.md).",
            ),
        ]
        | None
    ) = None


class PaymentOrderRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    seller_account: Identifier
    amount: AmountText
    currency: CurrencyCode
    payment_order_id: Identifier


class CheckoutRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /payments body."""

    buyer_info: dict[str, Any]
    checkout_id: Identifier
    credit_card_info: CreditCardInfo
    payment_orders: Annotated[list[PaymentOrderRequest], Meta(min_length=1, max_length=100)]


class PaymentOrderSummary(msgspec.Struct, frozen=True, omit_defaults=True):
    payment_order_id: str
    seller_account: str
    amount: str
    currency: str
    status: str
    url: str
    # What the risk rules decided (issue #17): "review" (waits for an operator) or "decline"
    # (FAILED, blocked_by_risk), with the rule; null when allowed or without rules.
    risk: str | None = None
    risk_rule: str | None = None


class CheckoutResponse(msgspec.Struct, frozen=True):
    """POST /payments answer (and GET /checkouts/{checkout_id})."""

    checkout_id: str
    is_payment_done: bool
    payment_orders: list[PaymentOrderSummary]
    position: int | None = None


class PaymentOrderResponse(msgspec.Struct, frozen=True):
    """GET /payments/{payment_order_id} answer."""

    payment_order_id: str
    checkout_id: str
    seller_account: str
    amount: str
    currency: str
    status: str
    ledger_updated: bool
    wallet_updated: bool
    attempts: int
    psp_reference: str | None
    failure_code: str | None
    failure_reason: str | None
    last_error: str | None
    next_attempt_at: datetime | None
    dead_lettered: bool
    created_at: datetime
    updated_at: datetime
    # How often the PSP contradicted an outcome already recorded (GET /discrepancies).
    discrepancies: int = 0
    # Its chargeback, on GET /payments/{id} only (null in lists): api/dispute_reads.py.
    dispute: DisputeResponse | None = None
    # The platform's share and the seller's (amount - commission), ADR 0014.
    commission: str = "0"
    seller_net: str = "0"
    # For a SUCCESS order: "pending" until the PSP settles it (or N days pass), then
    # "available" to pay out; null before.
    seller_funds: str | None = None
    # Refunds (ADR 0014), on GET /payments/{id} only (null in lists): api/refund_schemas.py.
    refunded: str | None = None
    refundable: str | None = None
    refunds: list[RefundResponse] | None = None
    # Held by a risk rule until an operator approves or declines it (issue #17): the status
    # stays NOT_STARTED, review_rule names the rule. A declined order is FAILED instead.
    held_for_review: bool = False
    review_rule: str | None = None


class RefundResponse(msgspec.Struct, frozen=True):
    """A refund as GET /refunds/{refund_id} answers it."""

    refund_id: str
    payment_order_id: str
    seller_account: str
    amount: str
    currency: str
    status: str  # PENDING, SUCCEEDED or FAILED
    reason: str | None
    created_at: datetime
    failure_reason: str | None = None


class HealthResponse(msgspec.Struct, frozen=True):
    status: str
    database: str
    mode: str = "sandbox"  # PAYMENTS_MODE: "sandbox" or "production"
