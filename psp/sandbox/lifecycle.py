"""Delayed status changes (pending charges settle, payouts get paid, fail or return).

They are rows in `transitions`, so a change that falls due while the sandbox is down still
happens after the restart.
"""

from __future__ import annotations

import sqlite3
import time

from payments.psp.sandbox.faults import FaultBook
from payments.psp.sandbox.identifiers import iso_utc, utc_now
from payments.psp.sandbox.models import ChargeView, PayoutView
from payments.psp.sandbox.store import SandboxStore
from payments.psp.sandbox.views import load_charge_view, load_payout_view
from payments.psp.sandbox.webhooks import enqueue_event

PAYOUT_FAILURE_CODE = "account_closed"


def schedule_transition(
    connection: sqlite3.Connection,
    object_kind: str,
    object_id: str,
    new_status: str,
    delay_s: float,
) -> None:
    connection.execute(
        "INSERT INTO transitions (object_kind, object_id, new_status, due_at) VALUES (?, ?, ?, ?)",
        (object_kind, object_id, new_status, time.time() + delay_s),
    )


def apply_due_transitions(store: SandboxStore, faults: FaultBook) -> int:
    """Apply every transition that is due, each with its webhook, in due order."""
    applied = 0
    while True:
        with store.transaction() as connection:
            transition = connection.execute(
                "SELECT * FROM transitions WHERE done = 0 AND due_at <= ? ORDER BY due_at, id"
                " LIMIT 1",
                (time.time(),),
            ).fetchone()
            if transition is None:
                return applied
            _apply(connection, faults, transition)
            connection.execute("UPDATE transitions SET done = 1 WHERE id = ?", (transition["id"],))
            applied += 1


def _apply(connection: sqlite3.Connection, faults: FaultBook, transition: sqlite3.Row) -> None:
    now = iso_utc(utc_now())
    kind, object_id, status = (
        transition["object_kind"],
        transition["object_id"],
        transition["new_status"],
    )
    if kind == "charge":
        connection.execute(
            "UPDATE charges SET status = ?, updated_at = ? WHERE id = ?", (status, now, object_id)
        )
        view: ChargeView | PayoutView | None = load_charge_view(connection, object_id)
    else:
        failure_code = PAYOUT_FAILURE_CODE if status in ("failed", "returned") else None
        connection.execute(
            "UPDATE payouts SET status = ?, failure_code = ?, updated_at = ? WHERE id = ?",
            (status, failure_code, now, object_id),
        )
        view = load_payout_view(connection, object_id)
    if view is not None:
        enqueue_event(connection, faults, f"{kind}.{status}", view)
