"""Verifications requested over HTTP: a row each in audit_verifications, run on a thread.

States: queued -> running -> identical | drift | failed. Results hold result_json() per
projection. A process that dies mid-run leaves its row `running`; its started_at tells.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from payments.projections.audit.verify import result_json, verify_all
from payments.projections.pg import fetch_all, fetch_one
from payments.projections.source import EventSource

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
    """
]


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
        verification_id = uuid.uuid4()
        with self.pool.connection() as conn:
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

    def started(self, verification_id: UUID) -> None:
        self._update(verification_id, "state = 'running', started_at = now()")

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
    source_factory: Callable[[], EventSource],
    verification_id: UUID,
    names: list[str],
) -> str:
    """Verify each projection, storing each result as it comes; answer the final state."""
    store.started(verification_id)
    source = source_factory()
    try:
        results = verify_all(
            pool,
            source,
            names,
            on_result=lambda result: store.add_result(verification_id, result_json(result)),
        )
    except Exception as error:
        log.exception("verification failed", extra={"verification_id": str(verification_id)})
        store.finished(verification_id, "failed", f"{type(error).__name__}: {error}"[:2000])
        return "failed"
    finally:
        source.close()
    state = "identical" if all(result.identical for result in results) else "drift"
    store.finished(verification_id, state)
    return state


def start_in_background(
    store: VerificationStore,
    pool: ConnectionPool,
    source_factory: Callable[[], EventSource],
    verification_id: UUID,
    names: list[str],
) -> threading.Thread:
    thread = threading.Thread(
        target=run_verification,
        args=(store, pool, source_factory, verification_id, names),
        name=f"verification-{verification_id}",
        daemon=True,
    )
    thread.start()
    return thread
