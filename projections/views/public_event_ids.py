"""`public_event_ids`: where each public event stands in the log, by its public id, so that
GET /events/{event_id} finds an event without reading the log (projections/public_events.py).

A public id (`evt_` and 32 hex digits, projections/followers/webhook_events.py) is a uuid5 of
the event's aggregate and version: it cannot be turned back into a position, so the view
keeps them, with the event's time, as a uuid, a bigint and a timestamp a row (a small
fraction of the log's size). Only the events merchants hear of are kept
(domain/webhook_endpoint.public_type; a ping is one endpoint's, not a public event). An event
that lacks its time stops the view, as a broken event stops the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from payments.domain.webhook_endpoint import TOPICS, public_type
from payments.projections.core import TrackedEvent
from payments.projections.followers.webhook_events import EVENT_ID_PREFIX, event_uuid_for
from payments.projections.pg import (
    Connection,
    PostgresView,
    fetch_one,
    qualify,
    tracking_ddl,
    upsert_rows,
)

NAME = "public_event_ids"


def event_uuid(event_id: str) -> UUID | None:
    """The uuid a public event id spells (None when it spells none)."""
    hex_digits = event_id.removeprefix(EVENT_ID_PREFIX)
    if hex_digits == event_id or len(hex_digits) != 32:
        return None
    try:
        return UUID(hex=hex_digits)
    except ValueError:
        return None


class PublicEventIdsView(PostgresView):
    name = NAME
    topics: frozenset[str] | None = TOPICS
    tables = ("public_event_ids", "public_event_ids_tracking")

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {qualify(schema, "public_event_ids")} (
                event_uuid uuid PRIMARY KEY,
                position bigint NOT NULL,
                created_at timestamptz NOT NULL
            )
            """,
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        rows = [
            (
                event_uuid_for(t.event.originator_id, t.event.originator_version),
                t.notification_id,
                t.event.timestamp,  # what the event's `created` says
            )
            for t in events
            if public_type(t.event) is not None
        ]
        columns = ("event_uuid", "position", "created_at")
        upsert_rows(conn, self.t("public_event_ids"), columns, "event_uuid", rows)

    def position_of(self, event_id: str) -> int | None:
        """Where the public event of this id stands in the log, once the view applied it."""
        uuid = event_uuid(event_id)
        if uuid is None:
            return None
        row = fetch_one(
            self.pool,
            f"SELECT position FROM {self.t('public_event_ids')} WHERE event_uuid = %s",
            (uuid,),
        )
        return None if row is None else int(row[0])
