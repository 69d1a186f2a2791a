"""`reconciliation_exceptions`: every run's period, and every exception its files raised with
what the run knows of it now (its state by the domain's rule, a person's resolution, the
PSP's word on an auto-fix), so that the exception list, the daily summary's backlog and the
console read them without replaying every run (a run of a day's file holds all its lines'
bookings). Each row keeps a finding's parts as the run does (`FindingAt`), and the API shows
it through the same formatter as a run's own report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from payments.domain.reconciliation.findings import (
    EXCEPTION_KINDS,
    OPEN_STATES,
    Finding,
    finding_state,
)
from payments.domain.reconciliation.records import (
    BookedFees,
    MatchedChunk,
    Resolution,
    SettledChunk,
)
from payments.domain.reconciliation_run import ReconciliationRun
from payments.projections.core import TrackedEvent
from payments.projections.pg import Connection, PostgresView, fetch_all, qualify, tracking_ddl
from payments.projections.reconciliation.report import (
    ClassRows,
    FindingAt,
    add_counted,
    add_lines,
    empty_classes,
    finding_amount,
)

NAME = "reconciliation_exceptions"
Run = ReconciliationRun
# What changes a recorded exception afterwards, and the column it fills.
_LATER: dict[type[Any], str] = {
    Run.AutoFixApplied: "auto_fix",
    Run.AutoFixConfirmed: "auto_fix",
    Run.AutoFixNotConfirmed: "not_confirmed",
    Run.ExceptionResolvedV1: "resolution",
    Run.ExceptionResolved: "resolution",
}


def _later_value(event: Any) -> Any:
    if isinstance(event, Run.AutoFixApplied | Run.AutoFixConfirmed):
        return event.outcome
    if isinstance(event, Run.AutoFixNotConfirmed):
        return event.reason
    by = getattr(event, "resolved_by", "")
    return Jsonb(
        {
            "action": event.action,
            "reason": event.reason,
            "resolved_by": by,
            "entries": dict(getattr(event, "entries", {})),
        }
    )


@dataclass(frozen=True, slots=True)
class RunRow:
    """A run as the console's lists show it, without loading it."""

    run_id: str
    period_start: str
    period_end: str
    file_format: str
    lines: int
    as_of: str  # ISO 8601, as a run's summary gives it
    open_exceptions: int

    @classmethod
    def of(cls, run: ReconciliationRun) -> RunRow:
        open_now = sum(1 for f in run.findings if run.state_of(f) in OPEN_STATES)
        return cls(
            str(run.id), run.period_start, run.period_end, run.file_format, run.lines,
            run.as_of.isoformat(), open_now,
        )  # fmt: skip


def _booked(event: Any) -> BookedFees:
    return BookedFees(
        event.batch_number, event.commission_minor, event.markup_minor,
        event.scheme_fees_minor, event.interchange_minor, event.other_fees_minor,
        event.total_minor,
    )  # fmt: skip


def _found(
    run: UUID,
    position: int,
    currency: str,
    as_of: datetime,
    finding: dict[str, Any],
    state: str,
    resolution: dict[str, Any] | None,
    auto_fix: str | None,
    not_confirmed: str | None,
) -> FindingAt:
    """A row as the run would show its finding."""
    made = Resolution(**resolution) if resolution is not None else None
    found = Finding.from_dict(finding)
    return FindingAt(
        str(run), int(position), currency, as_of, found, state, made, auto_fix, not_confirmed
    )


class ReconciliationExceptionsView(PostgresView):
    name = NAME
    topics: frozenset[str] | None = frozenset(
        [
            str(Run.Created.TOPIC),
            str(Run.FindingsRecorded.TOPIC),
            str(Run.Completed.TOPIC),
            str(Run.ChunkMatched.TOPIC),
            str(Run.LinesSettled.TOPIC),
            str(Run.FeesBooked.TOPIC),
        ]
        + [str(cls.TOPIC) for cls in _LATER]
    )
    tables = (
        "reconciliation_run_index",
        "reconciliation_exceptions",
        "reconciliation_run_lines",
        f"{NAME}_tracking",
    )

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        runs = qualify(schema, "reconciliation_run_index")
        exceptions = qualify(schema, "reconciliation_exceptions")
        lines = qualify(schema, "reconciliation_run_lines")
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {runs} (
                run_uuid uuid PRIMARY KEY,
                position bigint NOT NULL UNIQUE,
                period_start text NOT NULL,
                period_end text NOT NULL,
                currency text NOT NULL,
                as_of timestamptz NOT NULL,
                file_format text NOT NULL,
                lines integer NOT NULL DEFAULT 0
            )
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {exceptions} (
                run_uuid uuid NOT NULL,
                finding_id text NOT NULL,
                kind text NOT NULL,
                recorded_state text NOT NULL,
                state text NOT NULL,
                payment_order_id text,
                payout_id text,
                amount_minor bigint NOT NULL,
                finding jsonb NOT NULL,
                resolution jsonb,
                auto_fix text,
                not_confirmed text,
                PRIMARY KEY (run_uuid, finding_id)
            )
            """,
            f"CREATE INDEX IF NOT EXISTS reconciliation_exceptions_state ON {exceptions} (state)",
            f"""
            CREATE TABLE IF NOT EXISTS {lines} (
                run_uuid uuid NOT NULL,
                position bigint NOT NULL,
                class text NOT NULL,
                count bigint NOT NULL,
                amount_minor bigint NOT NULL,
                PRIMARY KEY (run_uuid, position, class)
            )
            """,
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        runs, exceptions = self.t("reconciliation_run_index"), self.t("reconciliation_exceptions")
        for tracked in events:
            e = tracked.event
            if isinstance(e, Run.Created):
                conn.execute(
                    f"INSERT INTO {runs} (run_uuid, position, period_start, period_end, "
                    "currency, as_of, file_format) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (e.originator_id, tracked.notification_id, e.period_start, e.period_end,
                     e.currency, e.as_of, e.file_format),
                )  # fmt: skip
            elif isinstance(e, Run.Completed):
                conn.execute(
                    f"UPDATE {runs} SET lines = %s WHERE run_uuid = %s",
                    (e.lines, e.originator_id),
                )
            elif isinstance(e, Run.FindingsRecorded):
                info = empty_classes()  # findings of no exception kind: counted, never worked
                for data in e.findings:
                    amount = finding_amount(Finding.from_dict(data))
                    if data["kind"] not in EXCEPTION_KINDS:
                        add_counted(info, data["kind"], 1, amount)
                        continue
                    conn.execute(
                        f"INSERT INTO {exceptions} (run_uuid, finding_id, kind, recorded_state, "
                        "state, payment_order_id, payout_id, amount_minor, finding) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (e.originator_id, data["finding_id"], data["kind"], data["state"],
                         data["state"], data.get("payment_order_id"), data.get("payout_id"),
                         amount, Jsonb(data)),
                    )  # fmt: skip
                self._lines(conn, tracked, info)
            elif isinstance(e, Run.ChunkMatched):
                chunk = MatchedChunk(
                    e.chunk, e.first_line, e.last_line, e.matched, e.gross_minor, e.net_minor
                )
                self._lines(conn, tracked, add_lines(empty_classes(), chunks=[chunk]))
            elif isinstance(e, Run.LinesSettled):
                settled = SettledChunk(e.chunk, e.bookings, e.already_reconciled)
                self._lines(conn, tracked, add_lines(empty_classes(), settled=[settled]))
            elif isinstance(e, Run.FeesBooked):
                self._lines(conn, tracked, add_lines(empty_classes(), fees=[_booked(e)]))
            elif (column := _LATER.get(type(e))) is not None:
                self._later(conn, exceptions, e, column)

    def _lines(self, conn: Connection, tracked: TrackedEvent, rows: ClassRows) -> None:
        """What one event of a run counts per class (applied again: the same rows)."""
        counted = [
            (name, row["count"], row["amount_minor"])
            for name, row in rows.items()
            if row["count"] or row["amount_minor"]
        ]
        if not counted:
            return
        names, counts, amounts = zip(*counted, strict=True)
        conn.execute(
            f"INSERT INTO {self.t('reconciliation_run_lines')} "
            "(run_uuid, position, class, count, amount_minor) "
            "SELECT %s, %s, * FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) "
            "ON CONFLICT DO NOTHING",
            (tracked.event.originator_id, tracked.notification_id,
             list(names), list(counts), list(amounts)),
        )  # fmt: skip

    @staticmethod
    def _later(conn: Connection, table: str, event: Any, column: str) -> None:
        """Record what changed an exception, and its state by the domain's rule."""
        row = conn.execute(
            f"UPDATE {table} SET {column} = %s WHERE run_uuid = %s AND finding_id = %s "
            "RETURNING recorded_state, resolution IS NOT NULL, auto_fix IS NOT NULL, "
            "not_confirmed IS NOT NULL",
            (_later_value(event), event.originator_id, event.finding_id),
        ).fetchone()
        if row is None:
            return  # a finding of no exception kind: not kept here
        recorded, resolved, auto_fixed, not_confirmed = row
        state = finding_state(
            recorded, resolved=resolved, auto_fixed=auto_fixed, not_confirmed=not_confirmed
        )
        conn.execute(
            f"UPDATE {table} SET state = %s WHERE run_uuid = %s AND finding_id = %s",
            (state, event.originator_id, event.finding_id),
        )

    def exceptions(
        self,
        states: Sequence[str] | None,
        run_id: str | None = None,
        payment_order_id: str | None = None,
        payout_id: str | None = None,
    ) -> list[FindingAt]:
        """The exceptions in these states (None: any) of a run, order or payout, if named;
        in no order (the caller's query sorts and filters the rest)."""
        rows = fetch_all(
            self.pool,
            "SELECT r.run_uuid, r.position, r.currency, r.as_of, e.finding, e.state, "
            "e.resolution, e.auto_fix, e.not_confirmed "
            f"FROM {self.t('reconciliation_exceptions')} e "
            f"JOIN {self.t('reconciliation_run_index')} r USING (run_uuid) "
            "WHERE (%(states)s::text[] IS NULL OR e.state = ANY(%(states)s)) "
            "AND (%(run)s::uuid IS NULL OR e.run_uuid = %(run)s) "
            "AND (%(order)s::text IS NULL OR e.payment_order_id = %(order)s) "
            "AND (%(payout)s::text IS NULL OR e.payout_id = %(payout)s)",
            {
                "states": None if states is None else list(states),
                "run": run_id,
                "order": payment_order_id,
                "payout": payout_id,
            },
        )
        return [_found(*row) for row in rows]

    def runs_covering(self, day: date) -> list[RunRow]:
        """The runs whose file's period covers `day`, in the order they were recorded."""
        text = day.isoformat()
        return self._run_rows(
            "WHERE r.period_start <> '' AND r.period_start <= %s AND %s <= r.period_end "
            "ORDER BY r.position",
            (text, text),
        )

    def recent_runs(self, count: int) -> tuple[list[RunRow], int]:
        """The last `count` runs recorded, oldest first, and how many there are in all."""
        rows = self._run_rows("ORDER BY r.position DESC LIMIT %s", (count,))
        total = fetch_all(self.pool, f"SELECT count(*) FROM {self.t('reconciliation_run_index')}")
        return rows[::-1], int(total[0][0])

    def _run_rows(self, rest: str, params: tuple[Any, ...]) -> list[RunRow]:
        rows = fetch_all(
            self.pool,
            "SELECT r.run_uuid, r.period_start, r.period_end, r.file_format, r.lines, r.as_of, "
            "(SELECT count(*) FROM "
            f"{self.t('reconciliation_exceptions')} e WHERE e.run_uuid = r.run_uuid "
            "AND e.state = ANY(%s)) "
            f"FROM {self.t('reconciliation_run_index')} r {rest}",
            (list(OPEN_STATES), *params),
        )
        return [
            RunRow(str(run), start, end, layout, int(lines), as_of.isoformat(), int(open_now))
            for run, start, end, layout, lines, as_of, open_now in rows
        ]

    def classes(self, run_ids: Sequence[str]) -> dict[str, ClassRows]:
        """Each run's counts per class, as `class_totals` counts them over the run."""
        totals = {run_id: empty_classes() for run_id in run_ids}
        ids = [UUID(run_id) for run_id in run_ids]
        for run, name, count, amount in fetch_all(
            self.pool,
            "SELECT run_uuid, class, sum(count), sum(amount_minor) "
            f"FROM {self.t('reconciliation_run_lines')} WHERE run_uuid = ANY(%s) "
            "GROUP BY run_uuid, class",
            (ids,),
        ):
            add_counted(totals[str(run)], name, int(count), int(amount))
        for run, kind, state, count, amount in fetch_all(
            self.pool,
            "SELECT run_uuid, kind, state, count(*), sum(amount_minor) "
            f"FROM {self.t('reconciliation_exceptions')} WHERE run_uuid = ANY(%s) "
            "GROUP BY run_uuid, kind, state",
            (ids,),
        ):
            add_counted(totals[str(run)], kind, int(count), int(amount), [state] * int(count))
        return totals
