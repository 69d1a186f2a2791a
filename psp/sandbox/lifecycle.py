"""Delayed status changes (pending charges settle, payouts get paid, fail or return, refunds
settle, disputes open and are decided).

They are rows in `transitions`, so a change that falls due while the sandbox is down still
happens after the restart.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping

from payments.psp.sandbox.faults import FaultBook
from payments.psp.sandbox.identifiers import iso_utc, utc_now
from payments.psp.sandbox.lookups import load_view
from payments.psp.sandbox.store import SandboxStore
from payments.psp.sandbox.views import load_charge_view, payout_view
from payments.psp.sandbox.webhooks import enqueue_event

logger = logging.getLogger("psp.sandbox.lifecycle")

PAYOUT_FAILURE_CODE = "account_closed"

# (connection, faults, object id, new status): make the change and enqueue its webhook.
TransitionApplier = Callable[[sqlite3.Connection, FaultBook, str, str], None]


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


def apply_due_transitions(
    store: SandboxStore, faults: FaultBook, appliers: Mapping[str, TransitionApplier]
) -> int:
    """Apply every transition that is due, each with its webhook, in due order.

    `appliers` maps an object kind to the function that makes its change; a kind without one is
    logged and marked done, so it cannot block the transitions behind it.
    """
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
            applier = appliers.get(transition["object_kind"])
            if applier is None:
                logger.error("no applier for %s transitions", transition["object_kind"])
            else:
                applier(connection, faults, transition["object_id"], transition["new_status"])
            connection.execute("UPDATE transitions SET done = 1 WHERE id = ?", (transition["id"],))
            applied += 1


def settle_charge(
    connection: sqlite3.Connection, faults: FaultBook, charge_id: str, status: str
) -> None:
    """A pending charge becomes `status`, with its `charge.<status>` webhook."""
    connection.execute(
        "UPDATE charges SET status = ?, updated_at = ? WHERE id = ?",
        (status, iso_utc(utc_now()), charge_id),
    )
    view = load_charge_view(connection, charge_id)
    if view is not None:
        enqueue_event(connection, faults, f"charge.{status}", view)


def settle_payout(
    connection: sqlite3.Connection, faults: FaultBook, payout_id: str, status: str
) -> None:
    """A payout becomes paid, failed or returned, with its `payout.<status>` webhook."""
    failure_code = PAYOUT_FAILURE_CODE if status in ("failed", "returned") else None
    connection.execute(
        "UPDATE payouts SET status = ?, failure_code = ?, updated_at = ? WHERE id = ?",
        (status, failure_code, iso_utc(utc_now()), payout_id),
    )
    view = load_view(connection, "payouts", payout_id, payout_view)
    if view is not None:
        enqueue_event(connection, faults, f"payout.{status}", view)
