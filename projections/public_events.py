"""The public events read back from the log (GET /events): the envelopes webhook endpoints
receive (projections/followers/webhook_events.py), in log order after a position, for a
receiver that missed some (its endpoint disabled meanwhile, or made later, or down past its
deliveries' last attempt) or that polls instead of listening (ADR 0027).

Read from the log itself, not from the deliveries, so an event is listed whether or not any
endpoint heard it. A page reads at most WINDOW positions of the log, so that asking for a
rare type never scans the whole log in one request: it may hold fewer events than asked
for, and the next one goes on from `next_after`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.domain.webhook_endpoint import EVENT_TYPES, TOPICS, hears_seller, public_type
from payments.projections.core import TrackedEvent
from payments.projections.event_store import load_created
from payments.projections.followers.webhook_events import envelope_of, event_uuid_for
from payments.projections.source import EventSource
from payments.projections.views.public_event_ids import PublicEventIdsView, event_uuid

WINDOW = 100_000  # positions of the log one page reads at most
READ_BATCH = 1_000  # notifications of the wanted topics read at once


@dataclass(frozen=True, slots=True)
class EventsPage:
    events: list[dict[str, Any]]  # envelopes: id, type, created, position, data
    next_after: int  # the position the next page starts after
    more: bool  # whether the log goes on past next_after (when the page was read)


def topics_of(event_type: str | None) -> frozenset[str]:
    """The stored topics that may be an event of this public type (None: of any)."""
    names = EVENT_TYPES if event_type is None else {event_type: EVENT_TYPES[event_type]}
    return frozenset(str(cls.TOPIC) for classes in names.values() for cls in classes)


def public_events(
    application: PaymentsApplication,
    pool: ConnectionPool,
    source: EventSource,
    *,
    after: int,
    limit: int,
    event_type: str | None = None,
    seller_account: str | None = None,
    window: int = WINDOW,
) -> EventsPage:
    """Up to `limit` public events recorded after position `after`, oldest first: of one
    type, and (`seller_account`) about that seller alone, as an endpoint of one seller
    hears them. At most `window` positions of the log are read."""
    head = source.head()
    through = min(head, after + window)
    topics = topics_of(event_type)
    events: list[dict[str, Any]] = []
    cursor = after
    while cursor < through and len(events) < limit:
        size = limit if seller_account is None else max(limit, READ_BATCH)  # most not theirs
        batch = source.read(cursor, through, size, topics)
        if not batch:
            cursor = through
            break
        cursor = batch[-1].id
        for tracked, kind, made in _public(application, pool, [source.decode(n) for n in batch]):
            if (event_type is None or kind == event_type) and hears_seller(
                seller_account, getattr(made, "seller_account", None)
            ):
                events.append(envelope_of(tracked, kind, made))
                if len(events) == limit:  # the next page starts after this one
                    cursor = tracked.notification_id
                    break
    return EventsPage(events, cursor, cursor < head)


class IndexBehind(Exception):
    """The public_event_ids view is further behind the log than one read looks (WINDOW):
    an id it does not hold yet may be an event it has still to apply."""

    def __init__(self, behind: int) -> None:
        super().__init__(f"the public_event_ids view is {behind:,} events behind the log")
        self.behind = behind


def public_event(
    application: PaymentsApplication,
    pool: ConnectionPool,
    source: EventSource,
    event_id: str,
    *,
    seller_account: str | None = None,
    window: int = WINDOW,
    index: PublicEventIdsView | None = None,
) -> dict[str, Any] | None:
    """The public event of this id, as GET /events lists it, or None: no such event, or
    (`seller_account`) one about another seller. Found through the public_event_ids view, and
    among the events recorded since the view's position when it does not hold the id yet (so
    an id a delivery just sent is found at once); IndexBehind when those are over `window`."""
    uuid = event_uuid(event_id)
    if uuid is None:
        return None
    view = PublicEventIdsView(pool) if index is None else index
    applied = view.position()  # first: an event at or before it is in the view's table
    position = view.position_of(event_id)
    if position is None:
        position = _among_unapplied(source, applied, uuid, window)
    if position is None:
        return None
    batch = [source.decode(n) for n in source.read(position - 1, position, 1, None)]
    for tracked, kind, made in _public(application, pool, batch):
        envelope = envelope_of(tracked, kind, made)
        if envelope["id"] == event_id and hears_seller(
            seller_account, getattr(made, "seller_account", None)
        ):
            return envelope
    return None


def _among_unapplied(source: EventSource, applied: int, uuid: UUID, window: int) -> int | None:
    """The position of the event whose id spells `uuid` among those recorded after `applied`
    (compared as uuids: no id text made for each)."""
    head = source.head()
    if head - applied > window:
        raise IndexBehind(head - applied)
    cursor = applied
    while cursor < head:
        batch = source.read(cursor, head, READ_BATCH, TOPICS)
        if not batch:
            break
        for notification in batch:
            if event_uuid_for(notification.originator_id, notification.originator_version) == uuid:
                return int(notification.id)
        cursor = batch[-1].id
    return None


def _public(
    application: PaymentsApplication, pool: ConnectionPool, tracked: Sequence[TrackedEvent]
) -> list[tuple[TrackedEvent, str, Any]]:
    """Each event that is a public one, with its type and the event that created its object
    (the object's terms and seller)."""
    typed = [(t, public_type(t.event)) for t in tracked]
    kept = [(t, kind) for t, kind in typed if kind is not None]
    created = load_created(application, pool, {t.event.originator_id for t, _ in kept})
    return [(t, kind, created.get(t.event.originator_id, t.event)) for t, kind in kept]
