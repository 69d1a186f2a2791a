"""Keeping each SellerWallet in step with the event log (ADR 0006): what a change does to it.

Postings to a seller's available account (released funds, refunds, disputes; before ADR 0014
succeeded orders) move its balance; payout outcomes settle, release or return a reservation.
Each change carries the notification position it accounts for and a wallet ignores positions
it has seen, so a follower that crashes between saving wallets and saving its own position
repeats nothing. Movements in a row are summed: one Moved event per seller per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from payments.domain.application import PaymentsApplication
from payments.domain.errors import ConcurrentWrite
from payments.domain.seller_wallet import SellerWallet


class WalletChangeKind(Enum):
    CREDIT = "credit"  # a posting to the seller's available account (signed, ADR 0014)
    PAYOUT_PAID = "payout_paid"
    PAYOUT_FAILED = "payout_failed"
    PAYOUT_RETURNED = "payout_returned"


@dataclass(frozen=True, slots=True)
class WalletChange:
    position: int
    kind: WalletChangeKind
    amount_minor: int
    currency: str
    payout_id: str | None = None


def apply_changes(wallet: SellerWallet, changes: Sequence[WalletChange]) -> SellerWallet:
    """The wallet with every change it has not seen yet applied, in log order."""
    credit_minor = credit_orders = credit_through = 0
    for change in changes:
        if change.position <= wallet.position:
            continue
        if change.kind is WalletChangeKind.CREDIT:
            credit_minor += change.amount_minor
            credit_orders += 1
            credit_through = change.position
            continue
        if credit_orders:
            wallet.move(credit_through, credit_minor, credit_orders)
            credit_minor = credit_orders = 0
        assert change.payout_id is not None
        if change.kind is WalletChangeKind.PAYOUT_PAID:
            wallet.settle_payout(change.payout_id, change.position)
        elif change.kind is WalletChangeKind.PAYOUT_FAILED:
            wallet.release_payout(change.payout_id, change.position)
        else:
            wallet.return_payout(change.payout_id, change.amount_minor, change.position)
    if credit_orders:
        wallet.move(credit_through, credit_minor, credit_orders)
    return wallet


class WalletCommands:
    def __init__(self, application: PaymentsApplication) -> None:
        self.application = application

    def apply(self, by_seller: Mapping[str, Sequence[WalletChange]]) -> None:
        """Apply a batch of changes to the sellers' wallets: one save for all of them, or
        seller by seller on fresh state when a payout was reserved meanwhile."""
        saved = self.application.save_each(
            by_seller.items(), lambda item: self._applied(*item), lambda item: self._applied(*item)
        )
        if len(saved) < len(by_seller):
            raise ConcurrentWrite("wallets still written concurrently; the batch is tried again")

    def _applied(self, seller: str, changes: Sequence[WalletChange]) -> SellerWallet:
        wallet = self.application.find_wallet(seller) or SellerWallet(
            seller_account=seller, currency=changes[0].currency
        )
        return apply_changes(wallet, changes)
