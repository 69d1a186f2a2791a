"""A view that finds one kind of aggregate for a list, newest first (GET /payouts, GET
/refunds, their console pages): a row per aggregate with its id, the text fields the list
filters by (copied from the event that created it), its status and the position of that
event, which orders the list and is its keyset. A row holds what the list filters and orders
by; the answer itself is the aggregate read from its events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from payments.projections.core import TrackedEvent
from payments.projections.pg import Connection, PostgresView, fetch_all, qualify, tracking_ddl


@dataclass(frozen=True, slots=True)
class ListedRow:
    item_id: str  # the aggregate's own id (payout_id, refund_id)
    position: int  # of its created event: the list's order and keyset


class NewestFirstView(PostgresView):
    """Subclasses name the table, the id column (also the created event's attribute), the
    filter columns (likewise), the created event with the status it starts in, and the
    events that change the status."""

    table: ClassVar[str]
    uuid_column: ClassVar[str]
    id_column: ClassVar[str]
    filter_columns: ClassVar[tuple[str, ...]]
    created: ClassVar[type[Any]]
    first_status: ClassVar[Enum]
    status_after: ClassVar[Mapping[type[Any], Enum]]

    @classmethod
    def topics_of(
        cls, created: type[Any], status_after: Mapping[type[Any], Enum]
    ) -> frozenset[str]:
        return frozenset([str(created.TOPIC), *(str(kind.TOPIC) for kind in status_after)])

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        table = qualify(schema, cls.table)
        filters = "".join(f"{column} text NOT NULL, " for column in cls.filter_columns)
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ({cls.uuid_column} uuid PRIMARY KEY, "
            f"{cls.id_column} text NOT NULL UNIQUE, {filters}status text NOT NULL, "
            "position bigint NOT NULL UNIQUE)",
            *(
                f"CREATE INDEX IF NOT EXISTS {cls.table}_{_short(column)} ON {table} "
                f"({column}, position)"
                for column in (*cls.filter_columns, "status")
            ),
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        table = self.t(self.table)
        columns = (self.uuid_column, self.id_column, *self.filter_columns, "status", "position")
        for tracked in events:
            e = tracked.event
            if isinstance(e, self.created):
                values = [e.originator_id, getattr(e, self.id_column)]
                values += [getattr(e, column) for column in self.filter_columns]
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING",
                    (*values, self.first_status.value, tracked.notification_id),
                )
            elif (status := self.status_after.get(type(e))) is not None:
                conn.execute(
                    f"UPDATE {table} SET status = %s WHERE {self.uuid_column} = %s",
                    (status.value, e.originator_id),
                )

    def newest(
        self,
        where: Mapping[str, str | Sequence[str] | None],
        limit: int,
        before: int | None,
    ) -> list[ListedRow]:
        """Up to `limit` rows created before position `before` (all: None), newest first,
        whose columns hold what `where` names: a value, any of several, or anything (None).
        Only the filter columns and `status` may be named."""
        conditions = ["(%s::bigint IS NULL OR position < %s)"]
        params: list[Any] = [before, before]
        for column, wanted in where.items():
            if column not in (*self.filter_columns, "status"):
                raise ValueError(f"{self.table} has no filter {column!r}")
            if isinstance(wanted, str):
                conditions.append(f"{column} = %s")
                params.append(wanted)
            elif wanted is not None:
                conditions.append(f"{column} = ANY(%s)")
                params.append(list(wanted))
        rows = fetch_all(
            self.pool,
            f"SELECT {self.id_column}, position FROM {self.t(self.table)} "
            f"WHERE {' AND '.join(conditions)} ORDER BY position DESC LIMIT %s",
            (*params, limit),
        )
        return [ListedRow(str(row[0]), int(row[1])) for row in rows]


def _short(column: str) -> str:
    """An index's name part: `seller_account` → seller, `payment_order_id` → payment_order."""
    return column.removesuffix("_account").removesuffix("_id")
