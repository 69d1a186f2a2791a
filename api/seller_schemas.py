"""Bodies of the sellers API (#17): strict request Structs and the seller's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from payments.api.schemas import Identifier, Reason
from payments.domain.seller import Seller
from payments.runtime.personal_data import PersonalDataReading

BankToken = Annotated[
    str,
    Meta(
        pattern=r"^btok_[A-Za-z0-9]{4,60}$",
        description="A bank token from the PSP's POST /v1/bank_tokens (never an IBAN).",
        examples=["btok_abcdefghijklmnopqrstuvwx"],
    ),
]
Country = Annotated[str, Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2.")]
LegalName = Annotated[str, Meta(min_length=1, max_length=200, examples=["Ada's Shop GmbH"])]
IdNumber = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9-]{1,32}$",
        description="Tax or company id for KYC: sent to the PSP, stored only sealed. Sandbox "
        "test values: 000000000 verified, 111111111 rejected, anything else pending.",
        examples=["000000000"],
    ),
]


class Contact(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Annotated[
        str, Meta(pattern=r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,190}$", max_length=254)
    ]
    phone: Annotated[str, Meta(pattern=r"^\+[0-9]{6,15}$", description="E.164")] | None = None


class SellerRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /sellers: who the seller is, where it is paid, and its KYC id number."""

    seller_account: Identifier
    legal_name: LegalName
    country: Country
    bank_token: BankToken
    contact: Contact
    id_number: IdNumber


class SellerUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """PATCH /sellers/{seller_account}: any of these; the rest stays."""

    legal_name: LegalName | None = None
    bank_token: BankToken | None = None
    contact: Contact | None = None


class ReasonRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason


class SellerResponse(msgspec.Struct, frozen=True):
    seller_account: str
    country: str
    bank_token: str
    kyc_status: str  # unverified | pending | verified | rejected
    kyc_rejection_reason: str | None
    psp_account_id: str | None
    suspended: bool
    suspension_reason: str | None
    payable: bool  # whether a payout may go to it now
    personal_data: str  # readable | erased | unreadable
    legal_name: str | None
    contact: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    position: int | None = None
    onboarding: str | None = None  # what the PSP's onboarding answered to this request


class SellerPage(msgspec.Struct, frozen=True):
    sellers: list[SellerResponse]
    next_after: str | None


def seller_body(
    seller: Seller,
    reading: PersonalDataReading,
    position: int | None = None,
    onboarding: str | None = None,
) -> SellerResponse:
    data = reading.buyer_info or {}
    contact = data.get("contact")
    return SellerResponse(
        seller_account=seller.seller_account,
        country=seller.country,
        bank_token=seller.bank_token,
        kyc_status=seller.kyc.value,
        kyc_rejection_reason=seller.rejection_reason,
        psp_account_id=seller.psp_account_id,
        suspended=seller.suspended,
        suspension_reason=seller.suspension_reason,
        payable=seller.payout_refusal is None,
        personal_data=reading.state,
        legal_name=data.get("legal_name"),
        contact=contact if isinstance(contact, dict) else None,
        created_at=seller.created_on,
        updated_at=seller.modified_on,
        position=position,
        onboarding=onboarding,
    )
