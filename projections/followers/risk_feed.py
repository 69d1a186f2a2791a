"""The risk feed (issue #17): the review queue and the count of risk decisions, from the log.

`risk_reviews` holds each order the rules sent to review until an operator decides it;
`risk_decisions` counts every verdict and review decision by rule and outcome (/metrics). Both
change in the transaction that moves the feed's position, so each event counts once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments.domain.payment_order import PaymentOrder
from payments.projections.core import TrackedEvent
from payments.projections.event_store import load_aggregates
from payments.projections.followers.follower import FeedView
from payments.projections.pg import Connection, fetch_all

TOPICS = frozenset(str(cls.TOPIC) for cls in (PaymentOrder.RiskAssessed, PaymentOrder.RiskReviewed))
NO_RULE = "none"  # the label of an order no rule held

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS risk_reviews (
        order_uuid uuid PRIMARY KEY,
        payment_order_id text NOT NULL,
        checkout_id text NOT NULL,
        seller_account text NOT NULL,
        amount_minor bigint NOT NULL,
        currency text NOT NULL,
        rule text NOT NULL,
        detail text NOT NULL,
        numbers jsonb NOT NULL,
        held_at timestamptz NOT NULL,
        position bigint NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS risk_reviews_page ON risk_reviews (held_at, payment_order_id)",
    """
    CREATE TABLE IF NOT EXISTS risk_decisions (
        rule text NOT NULL,
        outcome text NOT NULL,
        decisions bigint NOT NULL,
        PRIMARY KEY (rule, outcome)
    )
    """,
]


@dataclass(frozen=True, slots=True)
class Review:
    payment_order_id: str
    checkout_id: str
    seller_account: str
    amount_minor: int
    currency: str
    rule: str
    detail: str
    numbers: dict[str, int]
    held_at: datetime


class RiskFeed(FeedView):
    name = "risk_feed"
    topics: frozenset[str] | None = TOPICS
    tables = ("risk_feed_tracking",)

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        return [*SCHEMA, *super().ddl(schema)]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        held = [
            t.event
            for t in events
            if isinstance(t.event, PaymentOrder.RiskAssessed) and t.event.outcome == "review"
        ]
        orders = load_aggregates(self.application, self.pool, {e.originator_id for e in held})
        for tracked in events:
            event: Any = tracked.event
            if isinstance(event, PaymentOrder.RiskAssessed):
                _count(conn, event.rule or NO_RULE, event.outcome)
                if event.outcome == "review":
                    self._hold(conn, event, orders[event.originator_id], tracked.notification_id)
            else:
                outcome = "approved" if event.approved else "declined_in_review"
                _count(conn, event.rule, outcome)
                conn.execute(
                    "DELETE FROM risk_reviews WHERE order_uuid = %s", (event.originator_id,)
                )

    @staticmethod
    def _hold(conn: Connection, event: Any, order: PaymentOrder, position: int) -> None:
        conn.execute(
            """
            INSERT INTO risk_reviews (order_uuid, payment_order_id, checkout_id, seller_account,
                amount_minor, currency, rule, detail, numbers, held_at, position)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (order_uuid) DO NOTHING
            """,
            (
                event.originator_id,
                order.payment_order_id,
                order.checkout_id,
                order.seller_account,
                order.amount_minor,
                order.currency,
                event.rule,
                event.detail,
                json.dumps(event.numbers),
                event.timestamp,
                position,
            ),
        )

    # --- reads ---------------------------------------------------------------------------

    def reviews(self, limit: int, after: tuple[datetime, str] | None) -> list[Review]:
        """Orders waiting for review, oldest first, after the keyset position `after`."""
        rows = fetch_all(
            self.pool,
            """
            SELECT payment_order_id, checkout_id, seller_account, amount_minor, currency,
                   rule, detail, numbers, held_at
            FROM risk_reviews
            WHERE %(after)s::timestamptz IS NULL
               OR (held_at, payment_order_id) > (%(after)s::timestamptz, %(after_id)s)
            ORDER BY held_at, payment_order_id
            LIMIT %(limit)s
            """,
            {
                "after": after[0] if after else None,
                "after_id": after[1] if after else "",
                "limit": limit,
            },
        )
        return [Review(*row) for row in rows]

    def decisions(self) -> dict[tuple[str, str], int]:
        """How many decisions per (rule, outcome)."""
        rows = fetch_all(self.pool, "SELECT rule, outcome, decisions FROM risk_decisions")
        return {(rule, outcome): int(count) for rule, outcome, count in rows}


def _count(conn: Connection, rule: str, outcome: str) -> None:
    conn.execute(
        """
        INSERT INTO risk_decisions (rule, outcome, decisions) VALUES (%s, %s, 1)
        ON CONFLICT (rule, outcome) DO UPDATE SET decisions = risk_decisions.decisions + 1
        """,
        (rule, outcome),
    )
