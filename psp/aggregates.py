"""Load many aggregates in one query: the executor's and the followers' hot path.

`Repository.get` costs one or two round trips per aggregate (snapshots, then events). For a
batch of orders that dominated the executor's time, so this reads every event of the given
aggregates at once and replays them in version order. Only for aggregate types that are
never snapshotted (PaymentOrder, Payout, Checkout), whose whole history is in the events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import sql
from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication


def load_aggregates(
    application: PaymentsApplication, pool: ConnectionPool, ids: Iterable[UUID]
) -> dict[UUID, Any]:
    """The current state of each aggregate that exists, by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    table = getattr(application.recorder, "events_table_name", "payments_events")
    query = sql.SQL(
        "SELECT originator_id, originator_version, topic, state FROM {} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(sql.Identifier(table))
    with pool.connection() as conn:
        rows = conn.execute(query, (wanted,)).fetchall()
    aggregates: dict[UUID, Any] = {}
    for originator_id, version, topic, state in rows:
        event: Any = application.mapper.to_domain_event(
            StoredEvent(originator_id, version, topic, bytes(state))
        )
        aggregates[originator_id] = event.mutate(aggregates.get(originator_id))
    return aggregates
