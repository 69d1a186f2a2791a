"""The one module that reads the events table with SQL of its own (ADR 0009).

`eventsourcing` keeps every event of the application named "Payments" in `payments_events`
(notification_id, originator_id, originator_version, topic, state). Most readers use the
library (`select_notifications`, `repository.get`); the reads below need what it does not
offer: many aggregates in one query, one aggregate's events with their positions, a
server-side cursor over millions of events, raw rows for the audit hash chain. It also holds
the recorder that writes it (`PaymentsRecorder`: the library's, its insert without psycopg's
pipeline mode, and the rows a save asks to be written in its transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from eventsourcing.utils import retry
from psycopg import Connection, Cursor, sql
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from payments.domain.group_commit import WITH_EVENTS, AtPosition, EventKey
from payments.domain.reconciliation_run import ReconciliationRun
from payments.projections import applied_schema
from payments.projections.core import TrackedEvent
from payments.projections.locks import EVENT_STORE_SCHEMA_CLASS
from payments.projections.pg import fetch_all

EVENTS_TABLE = "payments_events"  # eventsourcing's name for the "Payments" application
EVENTS = sql.Identifier(EVENTS_TABLE)
CURSOR_PAGE = 20_000
EVENT_STORE_PART = "event store"  # its row in projections/applied_schema.TABLE

StoredRow = tuple[int, UUID, int, str, bytes]  # position, originator, version, topic, state
# Topics read on their own among millions of others: every reconciliation run's creation
# (load_runs: the exceptions and summaries as of a past instant). Each has a partial index of
# its positions, and is asked for with its name written in the statement, so that the
# planner can use it; without it every such read scanned the whole table.
TOPIC_INDEXES = {f"{EVENTS_TABLE}_reconciliation_runs": str(ReconciliationRun.Created.TOPIC)}


class WrittenWithEvents(Protocol):
    """A row a save writes in its events' transaction (`Application.record(with_events=)`):
    a checkout's new personal-data key (runtime/personal_data.py), before the events; an
    Idempotency-Key's answer (runtime/idempotency.py, an `AtPosition`), after them, given the
    position of each event inserted (`write_after` runs when a row of the transaction is an
    `AtPosition`). The rows of one class are written together, in one statement."""

    @classmethod
    def write_all(cls, cursor: Cursor[Any], rows: Sequence[Any]) -> None: ...

    @classmethod
    def write_after(
        cls, cursor: Cursor[Any], rows: Sequence[Any], positions: Mapping[EventKey, int]
    ) -> None: ...


class PaymentsRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL application recorder, its insert without pipeline mode.

    The library sends a save's statements (lock the table, notify, insert, sync) in one psycopg
    pipeline. psycopg 3.3 stops flushing a pipeline once its last command is queued: when a
    save is larger than what the socket takes at once (a Unix socket, as the embedded
    server's, takes a few hundred KiB), the end of the INSERT stays in libpq's buffer while
    psycopg waits for the answer, and the server waits for the rest of the INSERT: forever
    (psycopg issue #685). It stalled the recording of a 10,000-line reconciliation run.
    Here the same transaction is three statements: the lock and the notify in one simple
    query, the insert, the commit. An ordinary execute flushes all it sends before it reads.
    Same lock (notification ids in commit order), same notify, same errors, same ids.

    The insert sends the events as four arrays in binary (ids, versions, topics, states), not
    as the library's one array of its composite type: psycopg adapts a composite array in
    Python, value by value as text (418 µs for the 24 events of six checkouts, 36 µs so;
    the same rows, in the same order, with the same ids returned).
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = EVENTS_TABLE):
        super().__init__(datastore, events_table_name=events_table_name)
        notify = sql.SQL("NOTIFY {}").format(sql.Identifier(self.channel_name))
        self.lock_and_notify = sql.SQL("; ").join([*self.lock_table_statements, notify])
        self.insert_columns = sql.SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(
            schema=sql.Identifier(datastore.schema),
            table=sql.Identifier(events_table_name),
            id_type=sql.Identifier(datastore.originator_id_type),
        )

    def create_table(self) -> None:
        """The library's, one process at a time: two processes starting together (the API
        processes of ADR 0020, or an API and a worker) would run the same DDL concurrently,
        and PostgreSQL fails one of them with "tuple concurrently updated". Nothing at all
        when the database has had these very statements (ADR 0028): `CREATE INDEX` takes its
        table lock before finding the index there, and would queue behind the writers."""
        statements = [
            *(statement.as_string() for statement in self.sql_create_statements),
            *(index.as_string() for index in self._topic_indexes()),
        ]
        mark = applied_schema.fingerprint(statements)
        with self.datastore.get_connection() as conn:  # autocommit: a session lock
            if applied_schema.is_current(conn, EVENT_STORE_PART, mark):
                current = True
            else:
                current = self._create_locked(conn, mark)
        if current:
            self.datastore.register_type_adapters()  # what the library's does after its DDL

    def _create_locked(self, conn: Connection[Any], mark: str) -> bool:
        conn.execute("SELECT pg_advisory_lock(%s, 0)", (EVENT_STORE_SCHEMA_CLASS,))
        try:
            if applied_schema.is_current(conn, EVENT_STORE_PART, mark):
                return True  # another process made them while this one waited
            super().create_table()
            # Not CONCURRENTLY: that waits for every open transaction, the other starting
            # processes' waits for this lock included (a deadlock). A long log is indexed
            # once, writes waiting meanwhile, unless made beforehand (docs/operations.md).
            for index in self._topic_indexes():
                conn.execute(index)
            applied_schema.mark_current(conn, EVENT_STORE_PART, mark)
            return False
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, 0)", (EVENT_STORE_SCHEMA_CLASS,))

    def _topic_indexes(self) -> list[sql.Composed]:
        return [
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {name} "
                "ON {schema}.{table} (notification_id) WHERE topic = {topic}"
            ).format(
                name=sql.Identifier(name),
                schema=sql.Identifier(self.datastore.schema),
                table=sql.Identifier(self.events_table_name),
                topic=sql.Literal(topic),
            )
            for name, topic in TOPIC_INDEXES.items()
        ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The rows the save brought along (`with_events`) go before the events (and before
        the table lock) or, when they need the events' positions, right after them. A
        conflict in one fails the transaction like a conflicting event."""
        by_class: dict[type[WrittenWithEvents], list[WrittenWithEvents]] = {}
        for row in kwargs.get(WITH_EVENTS, ()):
            by_class.setdefault(type(row), []).append(row)
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            for kind, of_kind in by_class.items():
                kind.write_all(curs, of_kind)
            if not stored_events:
                return None
            curs.execute(self.lock_and_notify)  # no parameters: the simple query protocol
            curs.execute(
                self.insert_columns,
                (
                    [event.originator_id for event in stored_events],
                    [event.originator_version for event in stored_events],
                    [event.topic for event in stored_events],
                    [event.state for event in stored_events],
                ),
            )
            ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
            if ids is not None and any(issubclass(kind, AtPosition) for kind in by_class):
                positions = {
                    (event.originator_id, event.originator_version): position
                    for event, position in zip(stored_events, ids, strict=True)
                }
                for kind, of_kind in by_class.items():
                    kind.write_after(curs, of_kind, positions)
            return ids


def check_table_name(application: Application[Any]) -> None:
    """Refuse to run against an application whose events live elsewhere."""
    name = getattr(application.recorder, "events_table_name", EVENTS_TABLE)
    if name != EVENTS_TABLE:
        raise RuntimeError(f"events are in {name!r}, this code reads {EVENTS_TABLE!r}")


def load_aggregates(
    application: Application[Any],
    pool: ConnectionPool,
    ids: Iterable[UUID],
    until: datetime | None = None,
) -> dict[UUID, Any]:
    """The current state of each aggregate that exists, by id, in one query; with `until`,
    as it stood then (its events recorded by that instant; one created later is absent).

    `Repository.get` costs one or two round trips per aggregate (snapshots, then events);
    for the executor's batches that dominated its time. Only for aggregate types that are
    never snapshotted (PaymentOrder, Payout, Checkout): their whole history is in the events.
    """
    aggregates: dict[UUID, Any] = {}
    for originator_id, event in _events_of(application, pool, ids, first_only=False):
        if until is not None and event.timestamp > until:
            continue  # an aggregate's events are causal: the later ones are later still
        aggregates[originator_id] = event.mutate(aggregates.get(originator_id))
    return aggregates


def load_created(
    application: Application[Any], pool: ConnectionPool, ids: Iterable[UUID]
) -> dict[UUID, Any]:
    """The event that created each aggregate that exists, by id, in one query: what it was
    created with (an order's terms, a payout's id) without decoding the rest of its history."""
    return dict(_events_of(application, pool, ids, first_only=True))


def events_by_aggregate(
    application: Application[Any], pool: ConnectionPool, ids: Iterable[UUID]
) -> dict[UUID, list[Any]]:
    """Every event of each aggregate that exists, by id, in version order, in one query: for
    answers that show when each step happened, not only the state it left."""
    found: dict[UUID, list[Any]] = {}
    for originator_id, event in _events_of(application, pool, ids, first_only=False):
        found.setdefault(originator_id, []).append(event)
    return found


def _events_of(
    application: Application[Any], pool: ConnectionPool, ids: Iterable[UUID], *, first_only: bool
) -> list[tuple[UUID, Any]]:
    """(aggregate id, event) of every event of the aggregates, or only of each one's first,
    decoded, in order of aggregate and version."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    query = sql.SQL(
        "SELECT originator_id, originator_version, topic, state FROM {} "
        "WHERE originator_id = ANY(%b) AND (NOT %s OR originator_version = 1) "
        "ORDER BY originator_id, originator_version"
    ).format(EVENTS)
    return [
        (
            originator_id,
            application.mapper.to_domain_event(
                StoredEvent(originator_id, version, topic, bytes(state))
            ),
        )
        for originator_id, version, topic, state in fetch_all(pool, query, (wanted, first_only))
    ]


def aggregate_events(
    pool: ConnectionPool, application: Application[Any], originator_id: UUID
) -> list[TrackedEvent]:
    """Every stored event of one aggregate with its position, in notification order."""
    query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
        "WHERE originator_id = %s ORDER BY notification_id"
    ).format(EVENTS)
    rows = fetch_all(pool, query, (originator_id,))
    return [
        TrackedEvent(
            int(position),
            str(topic),
            application.mapper.to_domain_event(
                Notification(
                    id=int(position),
                    originator_id=originator,
                    originator_version=int(version),
                    topic=str(topic),
                    state=bytes(state),
                )
            ),
        )
        for position, originator, version, topic, state in rows
    ]


def topics_at(conn: Connection[Any], positions: Iterable[int]) -> dict[int, str]:
    """The topic of the event at each position."""
    query = sql.SQL("SELECT notification_id, topic FROM {} WHERE notification_id = ANY(%b)")
    rows = conn.execute(query.format(EVENTS), (sorted(set(positions)),)).fetchall()
    return {int(position): str(topic) for position, topic in rows}


def stored_rows(conn: Connection[Any], after: int, upto: int | None, limit: int) -> list[StoredRow]:
    """Up to `limit` raw rows after a position (and up to `upto` when given), in order."""
    query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
        "WHERE notification_id > %s AND (%s::bigint IS NULL OR notification_id <= %s) "
        "ORDER BY notification_id LIMIT %s"
    ).format(EVENTS)
    rows = conn.execute(query, (after, upto, upto, limit)).fetchall()
    return [(int(p), o, int(v), str(t), bytes(s)) for p, o, v, t, s in rows]


def count_after(conn: Connection[Any], position: int) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE notification_id > %s").format(EVENTS)
    row = conn.execute(query, (position,)).fetchone()
    return int(row[0]) if row else 0


def stream_states(
    application: Application[Any], through: int, topics: Sequence[str]
) -> Iterator[tuple[int, UUID | str, str, bytes]]:
    """(position, originator id, topic, stored state) of every event of `topics` up to
    `through`, in order, without holding them all: a server-side cursor on PostgreSQL,
    pages of the library's notification log elsewhere (tests in memory)."""
    recorder: Any = application.recorder
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:
        start = 1
        while start <= through:
            page: list[Notification] = recorder.select_notifications(
                start=start, limit=CURSOR_PAGE, stop=through, topics=list(topics)
            )
            if not page:
                return
            for notification in page:
                yield (
                    notification.id,
                    notification.originator_id,
                    notification.topic,
                    (notification.state),
                )
            start = page[-1].id + 1
        return
    statement = sql.SQL(
        "SELECT notification_id, originator_id::text, topic, state FROM {schema}.{table}"
        " WHERE notification_id <= %s AND topic = ANY(%s) ORDER BY notification_id"
    ).format(schema=sql.Identifier(datastore.schema), table=EVENTS)
    with (
        datastore.get_connection() as conn,
        conn.transaction(),
        conn.cursor(name="event_store_stream", row_factory=tuple_row) as cursor,
    ):
        cursor.execute(statement, (through, list(topics)))
        while page := cursor.fetchmany(CURSOR_PAGE):  # a page at a time: no lock per row
            for row in page:
                yield row[0], row[1], row[2], bytes(row[3])


def originators_of(application: Application[Any], topic: str, through: int) -> list[UUID]:
    """The originator of each event of `topic` up to `through`, in log order: through the
    topic's partial index (TOPIC_INDEXES) on PostgreSQL."""
    datastore = getattr(application.recorder, "datastore", None)
    if datastore is None or topic not in TOPIC_INDEXES.values():
        return [UUID(str(row[1])) for row in stream_states(application, through, [topic])]
    statement = sql.SQL(
        "SELECT originator_id FROM {schema}.{table} WHERE topic = {topic} "
        "AND notification_id <= %s ORDER BY notification_id"
    ).format(schema=sql.Identifier(datastore.schema), table=EVENTS, topic=sql.Literal(topic))
    with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
        return [UUID(str(row[0])) for row in cursor.execute(statement, (through,)).fetchall()]


def event_count_and_last(conn: Connection[Any]) -> tuple[int, int]:
    """How many events are stored and the last one's position; (0, 0) before the table is."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (EVENTS_TABLE,)).fetchone()
    if not exists or not exists[0]:
        return 0, 0
    query = sql.SQL("SELECT count(*), coalesce(max(notification_id), 0) FROM {}").format(EVENTS)
    row = conn.execute(query).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)
