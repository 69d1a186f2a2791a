"""SellerWallet: the consistency boundary of what we may pay out to one seller.

Credits come from a follower of the event log (released funds, refunds, disputes, payout
outcomes: whatever the posting rules post to the seller's available account) and carry
the notification position they account for, so a repeat changes nothing. A payout is reserved
in the same save as the Payout is created: two racing payout runs cannot both spend a balance,
because the second save conflicts on this aggregate's version (ADR 0006).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain.errors import FieldError, IllegalTransition, InvalidCommand
from payments.domain.ids import seller_wallet_uuid
from payments.domain.money import Money


class SellerWallet(Aggregate):
    TOPIC = "payments.SellerWallet"

    class Created(Aggregate.Created):
        TOPIC = "payments.SellerWallet.Created.v1"
        seller_account: str
        currency: str

    class Credited(Aggregate.Event):
        TOPIC = "payments.SellerWallet.Credited.v1"
        up_to_position: int
        amount_minor: int
        orders: int

    class Moved(Aggregate.Event):
        """What the available account of the seller moved by, up to a log position (ADR 0014):
        released funds and reinstated disputes add, refunds and disputes take away. Signed."""

        TOPIC = "payments.SellerWallet.Moved.v1"
        up_to_position: int
        amount_minor: int
        entries: int

    class PayoutReserved(Aggregate.Event):
        TOPIC = "payments.SellerWallet.PayoutReserved.v1"
        payout_id: str
        amount_minor: int

    class PayoutSettled(Aggregate.Event):
        TOPIC = "payments.SellerWallet.PayoutSettled.v1"
        payout_id: str
        amount_minor: int
        position: int

    class PayoutReleased(Aggregate.Event):
        TOPIC = "payments.SellerWallet.PayoutReleased.v1"
        payout_id: str
        amount_minor: int
        position: int

    class PayoutReturned(Aggregate.Event):
        TOPIC = "payments.SellerWallet.PayoutReturned.v1"
        payout_id: str
        amount_minor: int
        position: int

    @staticmethod
    def create_id(seller_account: str) -> UUID:
        return seller_wallet_uuid(seller_account)

    @event(Created)
    def __init__(self, seller_account: str, currency: str) -> None:
        self.seller_account = seller_account
        self.currency = currency
        self.position = 0  # the last notification position this wallet accounts for
        self.credited_minor = 0
        self.paid_out_minor = 0
        self.reserved: dict[str, int] = {}  # payout_id -> amount, while at the PSP

    @property
    def reserved_minor(self) -> int:
        return sum(self.reserved.values())

    @property
    def available_minor(self) -> int:
        return self.credited_minor - self.paid_out_minor - self.reserved_minor

    @property
    def available(self) -> Money:
        return Money(self.available_minor, self.currency)

    # --- commands -------------------------------------------------------------------------

    def move(self, up_to_position: int, amount_minor: int, entries: int) -> bool:
        """Postings to the seller's available account up to a log position, summed (signed;
        the balance may go below zero); False (no change) when already counted."""
        if up_to_position <= self.position:
            return False
        if entries <= 0:
            raise IllegalTransition(f"move of {entries} entries", "moved")
        self._moved(up_to_position=up_to_position, amount_minor=amount_minor, entries=entries)
        return True

    def reserve_payout(self, payout_id: str, amount_minor: int) -> None:
        """Set aside an amount for a payout; refused above what is available."""
        if payout_id in self.reserved:
            raise IllegalTransition(f"payout {payout_id} reserved", "reserved again")
        if amount_minor <= 0:
            raise InvalidCommand([FieldError("amount", "must be greater than zero")])
        if amount_minor > self.available_minor:
            raise InvalidCommand(
                [
                    FieldError(
                        "amount",
                        f"exceeds the available balance of {self.available.format()} "
                        f"{self.currency}",
                    )
                ]
            )
        self._payout_reserved(payout_id=payout_id, amount_minor=amount_minor)

    def settle_payout(self, payout_id: str, position: int) -> bool:
        """The PSP paid the payout out: the reservation leaves the wallet for good."""
        if position <= self.position:
            return False
        amount = self._reservation(payout_id, "settle")
        self._payout_settled(payout_id=payout_id, amount_minor=amount, position=position)
        return True

    def release_payout(self, payout_id: str, position: int) -> bool:
        """The payout failed: its reservation is available again."""
        if position <= self.position:
            return False
        amount = self._reservation(payout_id, "release")
        self._payout_released(payout_id=payout_id, amount_minor=amount, position=position)
        return True

    def return_payout(self, payout_id: str, amount_minor: int, position: int) -> bool:
        """A paid payout came back from the seller's bank: available again."""
        if position <= self.position:
            return False
        if not 0 < amount_minor <= self.paid_out_minor:
            raise IllegalTransition(f"paid out {self.paid_out_minor}", f"return {amount_minor}")
        self._payout_returned(payout_id=payout_id, amount_minor=amount_minor, position=position)
        return True

    def _reservation(self, payout_id: str, action: str) -> int:
        if payout_id not in self.reserved:
            raise IllegalTransition(f"payout {payout_id} not reserved", action)
        return self.reserved[payout_id]

    # --- events: assign only -------------------------------------------------------------

    @event(Credited)
    def _credited(self, up_to_position: int, amount_minor: int, orders: int) -> None:
        self.credited_minor += amount_minor
        self.position = up_to_position

    @event(Moved)
    def _moved(self, up_to_position: int, amount_minor: int, entries: int) -> None:
        self.credited_minor += amount_minor
        self.position = up_to_position

    @event(PayoutReserved)
    def _payout_reserved(self, payout_id: str, amount_minor: int) -> None:
        self.reserved[payout_id] = amount_minor

    @event(PayoutSettled)
    def _payout_settled(self, payout_id: str, amount_minor: int, position: int) -> None:
        del self.reserved[payout_id]
        self.paid_out_minor += amount_minor
        self.position = position

    @event(PayoutReleased)
    def _payout_released(self, payout_id: str, amount_minor: int, position: int) -> None:
        del self.reserved[payout_id]
        self.position = position

    @event(PayoutReturned)
    def _payout_returned(self, payout_id: str, amount_minor: int, position: int) -> None:
        self.paid_out_minor -= amount_minor
        self.position = position
