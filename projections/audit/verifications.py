"""Verifications requested over HTTP or in the console: a row each in audit_verifications.

States: queued -> running -> identical | drift | failed. Results hold result_json() per
projection. The deployment runs them one at a time, oldest first: each rebuilds every view
from the log beside the live one, and two at once would only fail on each other's locks.
A request while one is queued (not started) gets that one. Whichever process holds the
runner lock (VERIFICATION_CLASS) runs them; a process that finds it held leaves its request
queued for that one, which looks again after letting it go. Rows `running` when a runner
takes the lock were left by a process that stopped: they become `failed` (ABANDONED) and
the queue goes on. While a rebuild or `payments audit verify` holds a view's lock, the
verification waits, queued (ADR 0024).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from payments.projections.audit.verify import result_json, verify_all
from payments.projections.locks import VERIFICATION_CLASS, lock_key
from payments.projections.pg import fetch_all, fetch_one
from payments.projections.rebuild import RebuildBusy
from payments.projections.source import EventSource
from payments.projections.status import RunnerLock

log = logging.getLogger("payments.audit")

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS audit_verifications (
        verification_id uuid PRIMARY KEY,
        state text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        projections text[] NOT NULL,
        results jsonb NOT NULL DEFAULT '[]'::jsonb,
        error text
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS audit_verifications_waiting
        ON audit_verifications (requested_at) WHERE state IN ('queued', 'running')
    """,
]
RUNNER, REQUESTS = "verifications", "verification requests"  # their locks' keys (lock_key)
ABANDONED = "abandoned: the process running it stopped before it finished; request another"
WAITING = ("queued", "running")


@dataclass(frozen=True, slots=True)
class Verification:
    verification_id: UUID
    state: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    projections: list[str]
    results: list[dict[str, Any]]
    error: str | None


_COLUMNS = (
    "verification_id, state, requested_at, started_at, finished_at, projections, results, error"
)


class VerificationStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def create(self, names: list[str]) -> UUID:
        """A verification of `names`, queued: a new one, or the one already queued (it has
        not started, so it answers for the log as this request finds it, and later)."""
        with self.pool.connection() as conn:
            conn.execute(  # one request at a time decides whether one is queued already
                "SELECT pg_advisory_xact_lock(%s, %s)", (VERIFICATION_CLASS, lock_key(REQUESTS))
            )
            row = conn.execute(
                "SELECT verification_id FROM audit_verifications "
                "WHERE state = 'queued' AND projections = %s "
                "ORDER BY requested_at, verification_id LIMIT 1",
                (names,),
            ).fetchone()
            if row is not None:
                found: UUID = row[0]
                return found
            verification_id = uuid.uuid4()
            conn.execute(
                "INSERT INTO audit_verifications (verification_id, state, projections) "
                "VALUES (%s, 'queued', %s)",
                (verification_id, names),
            )
        return verification_id

    def get(self, verification_id: UUID) -> Verification | None:
        row = fetch_one(
            self.pool,
            f"SELECT {_COLUMNS} FROM audit_verifications WHERE verification_id = %s",
            (verification_id,),
        )
        return Verification(*row) if row else None

    def recent(self, limit: int) -> list[Verification]:
        """The last verifications requested, newest first."""
        rows = fetch_all(
            self.pool,
            f"SELECT {_COLUMNS} FROM audit_verifications "
            "ORDER BY requested_at DESC, verification_id LIMIT %s",
            (limit,),
        )
        return [Verification(*row) for row in rows]

    def claim_oldest(self) -> tuple[UUID, list[str]] | None:
        """The oldest queued verification, now running (for the holder of the runner lock)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "UPDATE audit_verifications SET state = 'running', started_at = now() "
                "WHERE verification_id = (SELECT verification_id FROM audit_verifications "
                "WHERE state = 'queued' ORDER BY requested_at, verification_id LIMIT 1 "
                "FOR UPDATE SKIP LOCKED) RETURNING verification_id, projections"
            ).fetchone()
        return (row[0], list(row[1])) if row else None

    def requeue(self, verification_id: UUID) -> None:
        self._update(verification_id, "state = 'queued', started_at = NULL")

    def abandon_running(self) -> int:
        """Fail the rows `running` (for the holder of the runner lock: none is running)."""
        with self.pool.connection() as conn:
            done = conn.execute(
                "UPDATE audit_verifications SET state = 'failed', error = %s, "
                "finished_at = now() WHERE state = 'running'",
                (ABANDONED,),
            )
            return done.rowcount

    def has_queued(self) -> bool:
        return (
            fetch_one(self.pool, "SELECT 1 FROM audit_verifications WHERE state = 'queued' LIMIT 1")
            is not None
        )

    def add_result(self, verification_id: UUID, result: dict[str, Any]) -> None:
        self._update(
            verification_id, "results = results || %s::jsonb", json.dumps([result], default=str)
        )

    def finished(self, verification_id: UUID, state: str, error: str | None = None) -> None:
        self._update(verification_id, "state = %s, error = %s, finished_at = now()", state, error)

    def _update(self, verification_id: UUID, assignments: str, *params: Any) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                f"UPDATE audit_verifications SET {assignments} WHERE verification_id = %s",
                (*params, verification_id),
            )


def run_verification(
    store: VerificationStore,
    pool: ConnectionPool,
    source: EventSource,
    verification_id: UUID,
    names: list[str],
) -> str:
    """Verify each projection of a claimed (running) verification, storing each result as it
    comes; answer the final state, or "busy" (queued again) when a view's lock is held."""
    try:
        results = verify_all(
            pool,
            source,
            names,
            on_result=lambda result: store.add_result(verification_id, result_json(result)),
        )
    except RebuildBusy:  # taken before any result: nothing to undo
        store.requeue(verification_id)
        return "busy"
    except Exception as error:
        log.exception("verification failed", extra={"verification_id": str(verification_id)})
        store.finished(verification_id, "failed", f"{type(error).__name__}: {error}"[:2000])
        return "failed"
    state = "identical" if all(result.identical for result in results) else "drift"
    store.finished(verification_id, state)
    return state


class VerificationRunner:
    """This process's runner of the deployment's queued verifications (see the module's
    docstring), on a thread of its own while there is work. `poke` after queueing one;
    `adopt` where a caller sees one waiting: at most every ADOPT_EVERY_S, it runs what a
    stopped process left."""

    ADOPT_EVERY_S = 5.0

    def __init__(
        self,
        database_url: str,
        store: VerificationStore,
        source_factory: Callable[[], EventSource],
        *,
        busy_wait_s: float = 1.0,
    ) -> None:
        self._database_url = database_url
        self._store = store
        self._source_factory = source_factory
        self._busy_wait_s = busy_wait_s
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._adopted_at = -self.ADOPT_EVERY_S
        self._stop = threading.Event()

    def poke(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if self._thread is not None:
                self._again = True  # it looks again before it ends
                return
            self._thread = threading.Thread(target=self._drain, name="verifications", daemon=True)
            self._thread.start()

    def adopt(self) -> None:
        now = time.monotonic()
        if now - self._adopted_at >= self.ADOPT_EVERY_S:
            self._adopted_at = now
            self.poke()

    def stop(self, timeout: float | None = None) -> None:
        """No new run; wait up to `timeout` for the one under way (it finishes its view)."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _drain(self) -> None:
        while True:
            try:
                self._run_queued()
            except Exception:
                log.exception("the verification runner stopped; the next request restarts it")
            with self._lock:
                if not self._again or self._stop.is_set():
                    self._thread = None
                    return
                self._again = False

    def _run_queued(self) -> None:
        """Run the queue while this process holds the runner lock; once it lets the lock go,
        look again (a request another process queued meanwhile found the lock held)."""
        while not self._stop.is_set():
            lock = RunnerLock(self._database_url, RUNNER, VERIFICATION_CLASS, kind="audit")
            if not lock.try_acquire():
                return  # another runner has the queue, and looks again after it
            try:
                abandoned = self._store.abandon_running()
                if abandoned:
                    log.warning("verifications abandoned", extra={"count": abandoned})
                self._run_claimed()
            finally:
                lock.release()
            if not self._store.has_queued():
                return

    def _run_claimed(self) -> None:
        source = self._source_factory()
        try:
            while not self._stop.is_set() and (claimed := self._store.claim_oldest()):
                verification_id, names = claimed
                state = run_verification(
                    self._store, self._store.pool, source, verification_id, names
                )
                if state == "busy":  # a rebuild holds a view: wait, then claim it again
                    self._stop.wait(self._busy_wait_s)
                else:
                    log.info(
                        "verification finished",
                        extra={"verification_id": str(verification_id), "state": state},
                    )
        finally:
            source.close()
