"""Seller: a marketplace seller, onboarded with KYC at the PSP before it is paid out (#17).

The seller's account id is the business id (uuid5). Legal name, contact and the id number
sent for KYC are personal data: sealed under the seller's own key (subject
`seller:<account>`), so an erasure makes them unreadable while the events stay (ADR 0012).
KYC goes `unverified` (registered, not yet at the PSP) → `pending` → `verified` or
`rejected`; the PSP decides, we record each step it confirms. Suspension by an operator is
separate from KYC: it stops payouts (and, by policy, charges) until reinstated.
"""

from __future__ import annotations

from enum import Enum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain.errors import IllegalTransition
from payments.domain.ids import seller_uuid
from payments.domain.personal_data import SealedPersonalData
from payments.domain.reasons import require_reason

SELLER_PREFIX = "seller:"


def seller_subject(seller_account: str) -> str:
    """Whose key seals a seller's personal data."""
    return SELLER_PREFIX + seller_account


class KycStatus(Enum):
    UNVERIFIED = "unverified"  # registered; not (yet) accepted by the PSP's onboarding
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


PSP_STATUSES = {"pending": KycStatus.PENDING, "verified": KycStatus.VERIFIED}
PSP_STATUSES["rejected"] = KycStatus.REJECTED
DECIDED = frozenset({KycStatus.VERIFIED, KycStatus.REJECTED})


class Seller(Aggregate):
    TOPIC = "payments.Seller"

    class Registered(Aggregate.Created):
        TOPIC = "payments.Seller.Registered.v1"
        seller_account: str
        country: str
        bank_token: str
        personal_data: SealedPersonalData  # legal_name, contact, id_number
        registered_by: str

    # Registered is the creation event; no event of the generic name is defined beside it.
    Created = None  # type: ignore[assignment]

    class Updated(Aggregate.Event):
        TOPIC = "payments.Seller.Updated.v1"
        bank_token: str | None
        personal_data: SealedPersonalData | None
        updated_by: str

    class KycSubmitted(Aggregate.Event):
        TOPIC = "payments.Seller.KycSubmitted.v1"
        psp_account_id: str
        status: str  # the PSP's first answer: pending, verified or rejected
        reason: str | None  # why, when rejected at once

    class KycDecided(Aggregate.Event):
        TOPIC = "payments.Seller.KycDecided.v1"
        status: str  # verified or rejected
        reason: str | None
        source: str  # how we learnt it: submit, webhook, requery

    class Suspended(Aggregate.Event):
        TOPIC = "payments.Seller.Suspended.v1"
        reason: str
        suspended_by: str
        seller_account: str

    class Reinstated(Aggregate.Event):
        TOPIC = "payments.Seller.Reinstated.v1"
        reason: str
        reinstated_by: str
        seller_account: str

    @staticmethod
    def create_id(seller_account: str) -> UUID:
        return seller_uuid(seller_account)

    @event(Registered)
    def __init__(
        self,
        seller_account: str,
        country: str,
        bank_token: str,
        personal_data: SealedPersonalData,
        registered_by: str,
    ) -> None:
        self.seller_account = seller_account
        self.country = country
        self.bank_token = bank_token
        self.personal_data = personal_data
        self.registered_by = registered_by
        self.kyc = KycStatus.UNVERIFIED
        self.psp_account_id: str | None = None
        self.rejection_reason: str | None = None
        self.suspended = False
        self.suspension_reason: str | None = None

    # --- reads --------------------------------------------------------------------------

    @property
    def payout_refusal(self) -> str | None:
        """Why a payout to this seller is refused now, or None when it may be paid."""
        if self.suspended:
            return f"seller {self.seller_account!r} is suspended ({self.suspension_reason})"
        if self.kyc is not KycStatus.VERIFIED:
            return f"seller {self.seller_account!r} has not passed KYC (KYC {self.kyc.value})"
        return None

    @property
    def awaits_psp(self) -> bool:
        """Whether the PSP still has to accept (unverified) or decide (pending) its KYC."""
        return self.kyc in (KycStatus.UNVERIFIED, KycStatus.PENDING)

    # --- commands -------------------------------------------------------------------------

    def update(
        self, bank_token: str | None, personal_data: SealedPersonalData | None, by: str
    ) -> bool:
        """New payout destination and/or personal data; False when nothing changes."""
        if bank_token == self.bank_token:
            bank_token = None
        if bank_token is None and personal_data is None:
            return False
        self._updated(bank_token=bank_token, personal_data=personal_data, updated_by=by)
        return True

    @event(Updated)
    def _updated(
        self, bank_token: str | None, personal_data: SealedPersonalData | None, updated_by: str
    ) -> None:
        if bank_token is not None:
            self.bank_token = bank_token
        if personal_data is not None:
            self.personal_data = personal_data

    def record_submitted(
        self, psp_account_id: str, psp_status: str, reason: str | None = None
    ) -> bool:
        """The PSP accepted the onboarding as `psp_account_id`; False for a repeat."""
        if self.psp_account_id is not None:
            return False
        if psp_status not in PSP_STATUSES:
            raise ValueError(f"unknown KYC status {psp_status!r}")
        self._submitted(psp_account_id=psp_account_id, status=psp_status, reason=reason)
        return True

    @event(KycSubmitted)
    def _submitted(self, psp_account_id: str, status: str, reason: str | None) -> None:
        self.psp_account_id = psp_account_id
        self.kyc = PSP_STATUSES[status]
        self.rejection_reason = reason

    def record_decision(self, psp_status: str, reason: str | None, source: str) -> bool:
        """The PSP's KYC decision as a look-up confirmed it; False when already known."""
        status = PSP_STATUSES.get(psp_status)
        if status not in DECIDED:
            return False  # still pending: nothing to record
        if self.kyc is status:
            return False
        if self.kyc in DECIDED or self.psp_account_id is None:
            raise IllegalTransition(self.kyc.value, psp_status)
        self._decided(status=psp_status, reason=reason, source=source)
        return True

    @event(KycDecided)
    def _decided(self, status: str, reason: str | None, source: str) -> None:
        self.kyc = PSP_STATUSES[status]
        self.rejection_reason = reason

    def suspend(self, reason: str, by: str) -> bool:
        require_reason(reason)
        if self.suspended:
            return False
        self._suspended(reason=reason, suspended_by=by, seller_account=self.seller_account)
        return True

    @event(Suspended)
    def _suspended(self, reason: str, suspended_by: str, seller_account: str) -> None:
        self.suspended = True
        self.suspension_reason = reason

    def reinstate(self, reason: str, by: str) -> bool:
        require_reason(reason)
        if not self.suspended:
            return False
        self._reinstated(reason=reason, reinstated_by=by, seller_account=self.seller_account)
        return True

    @event(Reinstated)
    def _reinstated(self, reason: str, reinstated_by: str, seller_account: str) -> None:
        self.suspended = False
        self.suspension_reason = None
