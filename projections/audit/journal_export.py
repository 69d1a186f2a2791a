"""The journal for a period, for an accounting tool: every ledger entry of events recorded in it.

Deterministic (DESIGN §10): rows sorted by (position, line), one fixed text form for times
and amounts, no generation time inside. The same log and period give byte-identical files,
whether or not the ledger view lags (the unapplied tail is replayed, as for as-of answers).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from payments.domain.money import Money
from payments.projections.audit.as_of import ledger_tail
from payments.projections.audit.instants import format_instant
from payments.projections.event_store import topics_at
from payments.projections.views.ledger import EntryLine
from payments.projections.views.ledger_pg import ENTRY_COLUMNS

COLUMNS = (
    "position",
    "event_id",
    "event_topic",
    "event_time",
    "transaction_id",
    "kind",
    "payment_order_id",
    "line",
    "account",
    "currency",
    "debit_minor",
    "credit_minor",
    "debit",
    "credit",
)


class PeriodError(ValueError):
    """A period whose end is not after its start."""


@dataclass(frozen=True, slots=True)
class JournalRow:
    line: EntryLine
    event_topic: str

    def values(self) -> dict[str, Any]:
        e = self.line
        return {
            "position": e.position,
            "event_id": e.transaction_id,  # a transaction is keyed by its causing event's id
            "event_topic": self.event_topic,
            "event_time": format_instant(e.event_time),
            "transaction_id": e.transaction_id,
            "kind": e.kind,
            "payment_order_id": e.payment_order_id,
            "line": e.line,
            "account": e.account,
            "currency": e.currency,
            "debit_minor": e.debit_minor,
            "credit_minor": e.credit_minor,
            "debit": Money(e.debit_minor, e.currency).format(),
            "credit": Money(e.credit_minor, e.currency).format(),
        }


def journal(
    pool: ConnectionPool, application: Application[Any], start: datetime, end: datetime
) -> list[JournalRow]:
    """Entries whose causing event was recorded in [start, end), by position and line."""
    if end <= start:
        raise PeriodError("the end of the period must be after its start")
    state = ledger_tail(pool, application, end)
    with pool.connection() as conn:
        rows = conn.execute(
            f"SELECT {', '.join('l.' + c for c in ENTRY_COLUMNS)} FROM ledger_entries l "
            "WHERE l.event_time >= %s AND l.event_time < %s AND l.position <= %s "
            "ORDER BY l.position, l.line",
            (start, end, state.view_position),
        ).fetchall()
        lines = [EntryLine(*row) for row in rows]
        lines += [e for e in state.tail if start <= e.event_time < end]
        topics = topics_at(conn, (e.position for e in lines))
    lines.sort(key=lambda e: (e.position, e.line))
    return [JournalRow(e, str(topics.get(e.position, ""))) for e in lines]


def to_csv(rows: list[JournalRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = row.values()
        writer.writerow(["" if values[c] is None else values[c] for c in COLUMNS])
    return buffer.getvalue().encode()


def to_json(rows: list[JournalRow], start: datetime, end: datetime) -> bytes:
    currencies = sorted({r.line.currency for r in rows})
    totals = {
        currency: {
            "debit_minor": sum(r.line.debit_minor for r in rows if r.line.currency == currency),
            "credit_minor": sum(r.line.credit_minor for r in rows if r.line.currency == currency),
        }
        for currency in currencies
    }
    document = {
        "period": {"from": format_instant(start), "to": format_instant(end)},
        "entry_count": len(rows),
        "totals": totals,
        "entries": [row.values() for row in rows],
    }
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
