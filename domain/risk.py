"""RiskCounter: the velocity counts of one key (a card fingerprint, a buyer, a seller), from
events (ADR 0015).

One aggregate per (key kind, key value) holds the entries of its horizon (the longest window
a rule reads) and its whole history's count. It is saved in the same save as the checkout
it counts: two checkouts that count on the same key at once conflict on its version, and
the loser decides again on the winner's counts, so a limit of N lets exactly N through.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from payments.domain.ids import PAYMENTS_NAMESPACE
from payments.domain.risk_rules import KeyKind, Window


def risk_counter_uuid(kind: KeyKind, key: str) -> UUID:
    return uuid5(PAYMENTS_NAMESPACE, f"risk_counter:{kind.value}:{key}")


class RiskCounter(Aggregate):
    TOPIC = "payments.RiskCounter"

    class Created(Aggregate.Created):
        TOPIC = "payments.RiskCounter.Created.v1"
        kind: str
        key: str  # a card fingerprint, a buyer's keyed pseudonym, a seller account

    class Counted(Aggregate.Event):
        """An order counted at `at`; entries older than at - horizon_s are dropped."""

        TOPIC = "payments.RiskCounter.Counted.v1"
        payment_order_id: str
        amount_minor: int
        at: datetime
        horizon_s: int

    @staticmethod
    def create_id(kind: str, key: str) -> UUID:
        return risk_counter_uuid(KeyKind(kind), key)

    @event(Created)
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        self.entries: list[tuple[datetime, int]] = []  # oldest first (as counted)
        self.total_count = 0
        self.first_at: datetime | None = None

    @property
    def window(self) -> Window:
        return Window(tuple(self.entries), self.total_count, self.first_at)

    def count(self, payment_order_id: str, amount_minor: int, at: datetime, horizon_s: int) -> None:
        self._counted(
            payment_order_id=payment_order_id, amount_minor=amount_minor, at=at, horizon_s=horizon_s
        )

    @event(Counted)
    def _counted(
        self, payment_order_id: str, amount_minor: int, at: datetime, horizon_s: int
    ) -> None:
        # Appended in the order counted, so what left the horizon is at the front: dropping it
        # costs nothing per event but the entries that go (replay stays linear).
        since = at - timedelta(seconds=horizon_s)
        entries = self.entries
        gone = 0
        while gone < len(entries) and entries[gone][0] <= since:
            gone += 1
        del entries[:gone]
        if horizon_s > 0:
            entries.append((at, amount_minor))
        self.total_count += 1
        if self.first_at is None:
            self.first_at = at
