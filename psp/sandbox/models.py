"""Request and response bodies of the sandbox API (msgspec Structs, strict at the edge)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec

Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", examples=["USD"])]
Reference = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["order_1"])]
PositiveMinor = Annotated[int, msgspec.Meta(gt=0, le=10**15, examples=[1000])]
ChargeId = Annotated[str, msgspec.Meta(pattern=r"^ch_[A-Za-z0-9]{24}$")]
BankTokenId = Annotated[str, msgspec.Meta(pattern=r"^btok_[a-z]{24}$")]


def example(*values: object) -> msgspec.Meta:
    """Examples for the OpenAPI document (schemathesis starts from them, people copy them)."""
    return msgspec.Meta(examples=list(values))


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The shape is checked here; the Luhn digit and the expiry by tokens.card_field_errors."""

    number: Annotated[
        str,
        msgspec.Meta(pattern=r"^[0-9]{12,19}$"),
        example("4242424242424242", "4000000000005126"),
    ]
    exp_month: Annotated[int, msgspec.Meta(ge=1, le=12), example(12)]
    exp_year: Annotated[int, msgspec.Meta(ge=2000, le=2199), example(2099)]
    cvc: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{3,4}$"), example("123")]


class TokenView(msgspec.Struct, frozen=True):
    token: str
    fingerprint: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class ChargeRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    amount: PositiveMinor
    currency: Currency
    token: Annotated[str, msgspec.Meta(pattern=r"^tok_[a-z]{24}$")]
    reference: Reference
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class CardView(msgspec.Struct, frozen=True):
    brand: str
    last4: str
    fingerprint: str
    exp_month: int
    exp_year: int


class ChargeView(msgspec.Struct, frozen=True):
    id: str
    object: str
    amount: int
    currency: str
    status: str
    reference: str
    description: str | None
    failure_code: str | None
    token: str
    card: CardView | None
    created_at: str
    updated_at: str


class RefundRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    charge: ChargeId
    reference: Reference
    amount: PositiveMinor | None = None  # None: everything that is left to refund
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class RefundView(msgspec.Struct, frozen=True):
    id: str
    object: str
    charge: str
    amount: int
    currency: str
    status: str  # pending | succeeded | failed
    reference: str
    reason: str | None
    failure_code: str | None
    created: str


class RefundList(msgspec.Struct, frozen=True):
    object: str
    data: list[RefundView]


class DisputeOpenRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    charge: ChargeId
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=100), example("fraudulent")] = (
        "general"
    )


class EvidenceRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    # At most 4000 characters, so that any valid body fits the 64 KiB limit even \u-escaped.
    text: Annotated[
        str, msgspec.Meta(min_length=1, max_length=4000), example("winning_evidence: receipt")
    ]


class DisputeCloseRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    outcome: Literal["won", "lost"]


class DisputeView(msgspec.Struct, frozen=True):
    id: str
    object: str
    charge: str
    charge_reference: str
    amount: int
    currency: str
    fee: int
    reason: str
    status: str  # needs_response | under_review | won | lost
    evidence_due_by: str
    created: str


class DisputeList(msgspec.Struct, frozen=True):
    object: str
    data: list[DisputeView]


class BankTokenRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Either an IBAN, or a US account number with its routing number.

    `bank_tokens.bank_account_of` refuses both or neither with a 422; `openapi_one_of` states
    that rule in the document (openapi.StrictStructSchemaPlugin adds it), a null being absent.
    """

    openapi_one_of: ClassVar[list[dict[str, Any]]] = [
        {
            "required": ["iban"],
            "properties": {
                "iban": {"type": "string"},
                "account_number": {"type": "null"},
                "routing_number": {"type": "null"},
            },
        },
        {
            "required": ["account_number", "routing_number"],
            "properties": {
                "iban": {"type": "null"},
                "account_number": {"type": "string"},
                "routing_number": {"type": "string"},
            },
        },
    ]

    holder_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200), example("Ada Seller")]
    iban: (
        Annotated[
            str,
            msgspec.Meta(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"),
            example("DE89370400440532013000"),
        ]
        | None
    ) = None
    account_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4,17}$")] | None = None
    routing_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{9}$")] | None = None


class BankTokenView(msgspec.Struct, frozen=True):
    id: str
    object: str
    kind: str  # iban | us_account
    country: str
    last4: str
    holder_name: str
    fingerprint: str
    created: str


class AccountRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    reference: Reference
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200), example("Ada's Shop")]
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$"), example("DE")]
    id_number: Annotated[
        str, msgspec.Meta(pattern=r"^[A-Za-z0-9-]{1,32}$"), example("000000000", "123456789")
    ]
    bank_token: BankTokenId | None = None


class AccountView(msgspec.Struct, frozen=True):
    id: str
    object: str
    reference: str
    name: str
    country: str
    status: str  # pending | verified | rejected
    bank_token: str | None
    created: str
    rejection_reason: str | None = None  # why KYC failed (rejected only)


class AccountList(msgspec.Struct, frozen=True):
    object: str
    data: list[AccountView]


class BalanceAmount(msgspec.Struct, frozen=True):
    amount: int
    currency: str


class BalanceView(msgspec.Struct, frozen=True):
    object: str
    available: list[BalanceAmount]
    pending: list[BalanceAmount]


class PayoutRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    amount: PositiveMinor
    currency: Currency
    destination: Annotated[str, msgspec.Meta(min_length=1, max_length=128), example("seller_1")]
    reference: Reference


class PayoutView(msgspec.Struct, frozen=True):
    id: str
    object: str
    amount: int
    currency: str
    status: str
    destination: str
    reference: str
    failure_code: str | None
    created_at: str
    updated_at: str


class ErrorBody(msgspec.Struct, frozen=True):
    error: str
    message: str


class ChargeList(msgspec.Struct, frozen=True):
    object: str
    data: list[ChargeView]


class PayoutList(msgspec.Struct, frozen=True):
    object: str
    data: list[PayoutView]


class HostedCardForm(msgspec.Struct, frozen=True):
    """The hosted page's form; missing fields are empty and reported on the page."""

    number: Annotated[str, example("4242 4242 4242 4242")] = ""
    expiry: Annotated[str, example("12/99")] = ""
    cvc: Annotated[str, example("123")] = ""
