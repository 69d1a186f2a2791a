"""Commands on sellers: register, update, record what the PSP's onboarding confirmed,
suspend and reinstate; and the rules charges and payouts ask sellers about (#17)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError

from payments.domain.application import PaymentsApplication
from payments.domain.errors import FieldError, SellerConflict, SellerNotPayable, found
from payments.domain.ids import seller_uuid
from payments.domain.personal_data import SealedPersonalData
from payments.domain.seller import KycStatus, Seller, seller_subject


class UnverifiedSellers(Enum):
    """PAYMENTS_UNVERIFIED_SELLERS: may an unknown or unverified seller be charged for?"""

    ACCEPT_CHARGES = "accept_charges"
    REFUSE = "refuse"


class SuspendedSellers(Enum):
    """PAYMENTS_SUSPENDED_SELLERS: may a suspended seller be charged for?"""

    REFUSE_CHARGES = "refuse_charges"
    ACCEPT_CHARGES = "accept_charges"


@dataclass(frozen=True, slots=True)
class SellerPolicy:
    unverified: UnverifiedSellers = UnverifiedSellers.ACCEPT_CHARGES
    suspended: SuspendedSellers = SuspendedSellers.REFUSE_CHARGES
    payouts_require_kyc: bool = True


DEFAULT_SELLER_POLICY = SellerPolicy()


@dataclass(frozen=True, slots=True)
class RegisterSeller:
    seller_account: str
    country: str
    bank_token: str
    personal_data: Mapping[str, Any]  # legal_name, contact, id_number: sealed before storing
    registered_by: str


@dataclass(frozen=True, slots=True)
class SellerPlacement:
    seller: Seller
    position: int | None


class SellerReads(Protocol):
    """Where charge checks read sellers: a cache in front of the event store (runtime/
    seller_cache.py), told of every change this process makes."""

    def find(self, seller_account: str) -> Seller | None: ...

    def forget(self, seller_account: str) -> None: ...


class SellerCommands:
    def __init__(
        self,
        application: PaymentsApplication,
        policy: SellerPolicy,
        charge_reads: SellerReads | None = None,
    ) -> None:
        self.application = application
        self.policy = policy
        # Checks of every order of every checkout read here; payouts read the store itself.
        self.charge_reads = charge_reads

    # --- reads ------------------------------------------------------------------------

    def find(self, seller_account: str) -> Seller | None:
        return self.application.find(Seller, seller_uuid(seller_account))

    def get(self, seller_account: str) -> Seller:
        return found(self.find(seller_account), f"seller {seller_account!r}")

    # --- commands ----------------------------------------------------------------------

    def register(self, command: RegisterSeller) -> SellerPlacement:
        """A new seller, KYC unverified until the PSP's onboarding answers."""
        if self.find(command.seller_account) is not None:
            raise SellerConflict(command.seller_account)
        seller = Seller(
            seller_account=command.seller_account,
            country=command.country,
            bank_token=command.bank_token,
            personal_data=self._seal(command.seller_account, command.personal_data),
            registered_by=command.registered_by,
        )
        try:
            position = self.application.record(seller)
        except IntegrityError:
            raise SellerConflict(command.seller_account) from None
        finally:
            self._forget(command.seller_account)
        return SellerPlacement(seller, position)

    def update(
        self,
        seller_account: str,
        bank_token: str | None,
        personal_data: Mapping[str, Any] | None,
        by: str,
    ) -> int | None:
        sealed = None if personal_data is None else self._seal(seller_account, personal_data)
        return self._change(seller_account, lambda s: s.update(bank_token, sealed, by))

    def record_submitted(
        self, seller_account: str, psp_account_id: str, status: str, reason: str | None = None
    ) -> int | None:
        return self._change(
            seller_account, lambda s: s.record_submitted(psp_account_id, status, reason)
        )

    def record_decision(
        self, seller_account: str, status: str, reason: str | None, source: str
    ) -> int | None:
        return self._change(seller_account, lambda s: s.record_decision(status, reason, source))

    def suspend(self, seller_account: str, reason: str, by: str) -> int | None:
        return self._change(seller_account, lambda s: s.suspend(reason, by))

    def reinstate(self, seller_account: str, reason: str, by: str) -> int | None:
        return self._change(seller_account, lambda s: s.reinstate(reason, by))

    def _change(self, seller_account: str, command: Callable[[Seller], bool]) -> int | None:
        """Apply on fresh state and save; the position of the write (None: nothing changed)."""

        def decide() -> list[Seller]:
            seller = self.get(seller_account)
            return [seller] if command(seller) else []

        try:
            return self.application.retry_on_conflict(decide)
        finally:
            self._forget(seller_account)

    def _forget(self, seller_account: str) -> None:
        if self.charge_reads is not None:
            self.charge_reads.forget(seller_account)

    def _seal(self, seller_account: str, data: Mapping[str, Any]) -> SealedPersonalData:
        sealer = self.application.sealer
        if sealer is None:
            raise RuntimeError("no PersonalDataSealer given: sellers cannot be registered")
        return sealer.seal(seller_subject(seller_account), data).sealed

    # --- what charges and payouts ask -------------------------------------------------------

    def charge_refusals(self, orders: Iterable[tuple[str, str, str]]) -> list[FieldError]:
        """The (field, seller account, payment order id) of a checkout's orders whose seller
        the policy refuses, each as a field error naming the order."""
        errors: list[FieldError] = []
        refusals: dict[str, str | None] = {}  # a seller of many orders is read once
        for field, account, order_id in orders:
            if account not in refusals:
                refusals[account] = self.charge_refusal(account)
            why = refusals[account]
            if why is not None:
                errors.append(FieldError(field, f"order {order_id!r}: {why}"))
        return errors

    def charge_refusal(self, seller_account: str) -> str | None:
        policy = self.policy
        if (
            policy.unverified is UnverifiedSellers.ACCEPT_CHARGES
            and policy.suspended is SuspendedSellers.ACCEPT_CHARGES
        ):
            return None
        reads = self.charge_reads
        seller = self.find(seller_account) if reads is None else reads.find(seller_account)
        if seller is not None and seller.suspended:
            if policy.suspended is SuspendedSellers.REFUSE_CHARGES:
                return f"seller {seller_account!r} is suspended: charges are refused"
            return None
        if policy.unverified is UnverifiedSellers.REFUSE:
            if seller is None:
                return f"seller {seller_account!r} is not onboarded: charges are refused"
            if seller.kyc is not KycStatus.VERIFIED:
                return (
                    f"seller {seller_account!r} has not passed KYC (KYC {seller.kyc.value}): "
                    "charges are refused"
                )
        return None

    def payout_refusal(self, seller_account: str) -> SellerNotPayable | None:
        """Why a payout to this seller is refused now (None: it may be paid)."""
        if not self.policy.payouts_require_kyc:
            return None
        seller = self.find(seller_account)
        if seller is None:
            why = f"seller {seller_account!r} is not onboarded: payouts need a verified seller"
            return SellerNotPayable(seller_account, why)
        why_not = seller.payout_refusal
        return None if why_not is None else SellerNotPayable(seller_account, why_not)
