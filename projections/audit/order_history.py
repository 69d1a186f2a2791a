"""An order's history for a finance reader: every event, its position, time and business fields.

Only fields named in HISTORY_FIELDS are shown, so a card token (or any field added later)
never leaks by accident; the amount appears in minor units and as a decimal string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from payments.domain.ids import payment_order_uuid
from payments.domain.money import Money
from payments.domain.payment_order import PaymentOrder
from payments.projections.event_store import aggregate_events
from payments.projections.views.order_terms import TermsBook, terms_of
from payments.projections.views.postings import Posting, transaction_for

# Business fields a finance reader needs. Never card_token (nor PAN or CVC, never stored).
HISTORY_FIELDS = frozenset(
    {
        "payment_order_id",
        "checkout_id",
        "seller_account",
        "amount_minor",
        "currency",
        "attempt",
        "attempts",
        "error",
        "last_error",
        "next_attempt_at",
        "psp_reference",
        "source",
        "code",
        "reason",
        "reported_outcome",
        "detail",
        "actor",  # the API key id of whoever replayed or reviewed it
    }
)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    position: int
    event_type: str
    topic: str
    version: int
    recorded_at: datetime
    data: dict[str, Any]
    postings: tuple[Posting, ...]  # the ledger entries this event caused, if any
    transaction_id: str | None


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def event_data(event: Any) -> dict[str, Any]:
    """The event's whitelisted fields, by name; amounts also as a decimal string."""
    data = {
        name: _plain(value) for name, value in sorted(vars(event).items()) if name in HISTORY_FIELDS
    }
    if "amount_minor" in data and "currency" in data:
        data["amount"] = Money(data["amount_minor"], data["currency"]).format()
    return data


def order_history(
    pool: ConnectionPool, application: Application[Any], payment_order_id: str
) -> list[HistoryEntry] | None:
    """The order's events in notification order, or None if there is no such order."""
    events = aggregate_events(pool, application, payment_order_uuid(payment_order_id))
    if not events:
        return None
    book = TermsBook()
    entries: list[HistoryEntry] = []
    for tracked in events:
        event = tracked.event
        if isinstance(event, PaymentOrder.Created):
            book.add(terms_of(event))
        txn = transaction_for(tracked, book)
        entries.append(
            HistoryEntry(
                position=tracked.notification_id,
                event_type=type(event).__qualname__,
                topic=tracked.topic,
                version=event.originator_version,
                recorded_at=event.timestamp,
                data=event_data(event),
                postings=txn.postings if txn else (),
                transaction_id=txn.transaction_id if txn else None,
            )
        )
    return entries
