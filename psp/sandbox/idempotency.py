"""Idempotency-Key handling shared by every create call (charges, payouts, refunds, accounts).

The first complete answer for a key is stored with a hash of the request; the same key with the
same body gets that answer again (status and bytes) with `Idempotent-Replayed: true`; with a
different body, 422. Answers that changed nothing (faults, 503 processing errors, bad tokens)
are not stored, so a retry is processed afresh.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

from payments.psp.sandbox.faults import answer_after_processing, apply_request_faults
from payments.psp.sandbox.identifiers import iso_utc, utc_now
from payments.psp.sandbox.problems import KEY_REUSED_DETAIL, KEY_REUSED_TITLE, ProblemError
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.store import SandboxStore

REPLAYED_HEADER = "Idempotent-Replayed"
BodyType = TypeVar("BodyType", bound=msgspec.Struct)


class Outcome(msgspec.Struct, frozen=True):
    """A processed create call: its answer, and whether it was recorded (and so is replayable)."""

    status_code: int
    body: bytes
    recorded: bool = True


async def create_once(
    sandbox: Sandbox,
    request: Request[Any, Any, Any],
    scope: str,
    key: str,
    body: BodyType,
    process: Callable[[Sandbox, str, str, BodyType], Outcome],
) -> Response[bytes]:
    """Answer a create call once per key.

    Faults aimed at `scope` act first; then the same key gets its stored answer again, or the call
    is processed: `process(sandbox, key, request_hash, body)` records the object and its answer
    (`store_answer`) in one transaction. A processed call may then meet a fault that lies about
    its answer (see faults.py).
    """
    injected = await apply_request_faults(
        sandbox.faults, request, scope, sandbox.config.timeout_fault_s
    )
    if injected is not None:
        return injected
    hashed = request_hash(body)
    with sandbox.keys_in_flight.hold(scope, key):
        replay = stored_answer(sandbox.store, scope, key, hashed)
        if replay is not None:
            return replay
        outcome = process(sandbox, key, hashed, body)
    if outcome.recorded:
        lie = answer_after_processing(sandbox.faults, scope)
        if lie is not None:
            return lie
    return json_response(outcome.status_code, outcome.body)


def request_hash(body: object) -> str:
    """Hash of the decoded body, so whitespace or key order do not make a "different" request."""
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()


def json_response(status_code: int, body: bytes, *, replayed: bool = False) -> Response[bytes]:
    headers = {REPLAYED_HEADER: "true"} if replayed else {}
    return Response(
        content=body, status_code=status_code, media_type="application/json", headers=headers
    )


def stored_answer(
    store: SandboxStore, scope: str, key: str, hashed_request: str
) -> Response[bytes] | None:
    """The replayed answer for this key, None when the key is new; 422 when the body differs."""
    row = store.fetch_one(
        "SELECT request_hash, status_code, body FROM idempotency WHERE scope = ? AND key = ?",
        (scope, key),
    )
    if row is None:
        return None
    if row["request_hash"] != hashed_request:
        raise ProblemError(422, KEY_REUSED_TITLE, KEY_REUSED_DETAIL)
    return json_response(row["status_code"], bytes(row["body"]), replayed=True)


def store_answer(
    connection: sqlite3.Connection,
    scope: str,
    key: str,
    hashed_request: str,
    status_code: int,
    view: object,
) -> Outcome:
    """Store the answer to a processed call under its key: `view` as JSON, with its status."""
    body = msgspec.json.encode(view)
    connection.execute(
        "INSERT INTO idempotency (scope, key, request_hash, status_code, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (scope, key, hashed_request, status_code, body, iso_utc(utc_now())),
    )
    return Outcome(status_code, body)


def count_attempt(connection: sqlite3.Connection, scope: str, key: str) -> int:
    """Count one more processing attempt for this key and return the count."""
    connection.execute(
        "INSERT INTO attempt_counts (scope, key, attempts) VALUES (?, ?, 1)"
        " ON CONFLICT (scope, key) DO UPDATE SET attempts = attempts + 1",
        (scope, key),
    )
    row = connection.execute(
        "SELECT attempts FROM attempt_counts WHERE scope = ? AND key = ?", (scope, key)
    ).fetchone()
    return int(row["attempts"])
