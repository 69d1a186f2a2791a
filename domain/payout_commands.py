"""Commands on payouts and seller wallets: request (reserve + create in one save), outcomes,
dead-letter replay, and the follower's wallet changes. Each retries on a concurrent write."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError

from payments.domain.application import PaymentsApplication, change_with_retry
from payments.domain.errors import FieldError, InvalidCommand, NotFound, PayoutConflict
from payments.domain.ids import payout_uuid, seller_wallet_uuid
from payments.domain.payout import Payout
from payments.domain.seller_wallet import SellerWallet


def payout_id_for_run(run_id: str, seller_account: str) -> str:
    """The payout of a scheduled run for one seller: the same run never pays a seller twice."""
    return "po_run_" + hashlib.sha256(f"{run_id}\x00{seller_account}".encode()).hexdigest()[:24]


def payout_id_for_key(idempotency_key: str) -> str:
    """The payout a POST /payouts with this Idempotency-Key creates (a retry finds it)."""
    return "po_req_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class RequestPayout:
    payout_id: str
    seller_account: str
    amount_minor: int | None  # None: everything available
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutPlacement:
    payout: Payout
    created: bool
    position: int | None = None


class PayoutCommands:
    def __init__(self, application: PaymentsApplication, attempts: int = 5) -> None:
        self.application = application
        self.attempts = attempts

    # --- reads ---------------------------------------------------------------------------

    def find_payout(self, payout_id: str) -> Payout | None:
        return self.application._find(Payout, payout_uuid(payout_id))

    def get_payout(self, payout_id: str) -> Payout:
        payout = self.find_payout(payout_id)
        if payout is None:
            raise NotFound(f"payout {payout_id!r} not found")
        return payout

    def find_wallet(self, seller_account: str) -> SellerWallet | None:
        return self.application._find(SellerWallet, seller_wallet_uuid(seller_account))

    # --- requesting a payout -------------------------------------------------------------

    def request_payout(self, command: RequestPayout) -> PayoutPlacement:
        """Reserve the amount on the seller's wallet and create the Payout in one save.

        A racing request for the same wallet makes one of the saves conflict; the loser
        decides again on the reduced balance. An existing identical payout is returned as is.
        """
        for attempt in range(self.attempts):
            # Wallet first: a payout is saved with its reservation, so a wallet that holds
            # the reservation is always followed by a read that finds the payout.
            wallet = self.find_wallet(command.seller_account)
            existing = self.find_payout(command.payout_id)
            if existing is not None:
                if not existing.same_content(command.seller_account, command.amount_minor):
                    raise PayoutConflict(command.payout_id)
                return PayoutPlacement(existing, created=False)
            if wallet is None:
                raise InvalidCommand([FieldError("seller_account", "has no balance to pay out")])
            amount = command.amount_minor
            if amount is None:
                amount = wallet.available_minor
            wallet.reserve_payout(command.payout_id, amount)
            payout = Payout(
                payout_id=command.payout_id,
                seller_account=command.seller_account,
                amount_minor=amount,
                currency=wallet.currency,
                destination=command.seller_account,
                run_id=command.run_id,
            )
            try:
                recordings = self.application.save(wallet, payout)
            except IntegrityError:
                if attempt == self.attempts - 1:
                    raise
                continue  # another payout or credit wrote this wallet: decide on fresh state
            return PayoutPlacement(payout, created=True, position=recordings[-1].notification.id)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- outcomes (webhooks) and operators -------------------------------------------------

    def record_paid(self, payout_id: str, psp_reference: str, source: str) -> bool:
        return self._apply(payout_id, lambda p: p.record_paid(psp_reference, source))

    def record_failure(
        self, payout_id: str, reason: str, psp_reference: str | None, source: str
    ) -> bool:
        return self._apply(payout_id, lambda p: p.record_failure(reason, psp_reference, source))

    def record_returned(self, payout_id: str, psp_reference: str, source: str) -> bool:
        return self._apply(payout_id, lambda p: p.record_returned(psp_reference, source))

    def replay_dead_letter(self, payout_id: str, reason: str) -> int | None:
        payout = self.get_payout(payout_id)
        payout.replay_dead_letter(reason)
        recordings = self.application.save(payout)
        return recordings[-1].notification.id if recordings else None

    def _apply(self, payout_id: str, change: Callable[[Payout], bool]) -> bool:
        return change_with_retry(
            self.application, lambda: self.get_payout(payout_id), change, self.attempts
        )

    # --- the wallet follower ---------------------------------------------------------------

    def wallet_for_update(self, seller_account: str, currency: str) -> SellerWallet:
        """The seller's wallet, or a new one (saved with its first credit)."""
        return self.find_wallet(seller_account) or SellerWallet(
            seller_account=seller_account, currency=currency
        )
