"""The Idempotency-Key flow of every creating POST: claim, run once, store, replay (ADR 0002)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from eventsourcing.persistence import IntegrityError
from litestar import Request, Response
from litestar.di import NamedDependency

from payments.api.parameters import CallerDep, IdempotencyKeyHeader, ServicesDep
from payments.api.problems import FieldProblem, ProblemError
from payments.domain.errors import DomainError
from payments.runtime.idempotency import (
    AnswerWithEvents,
    ClaimOutcome,
    IdempotencyStore,
    NewAnswerWithEvents,
    StoredResponse,
    valid_key,
)
from payments.runtime.keys import Caller

T = TypeVar("T")


def key_problem(status: int, kind: str, title: str, detail: str) -> ProblemError:
    """A problem with the Idempotency-Key header, of type idempotency-key-{kind} (missing,
    invalid, reused)."""
    field = FieldProblem(field="header.Idempotency-Key", message=kind)
    return ProblemError(status, f"idempotency-key-{kind}", title, detail, errors=[field])


def require_key(key: str | None) -> str:
    if key is None:
        raise key_problem(
            400,
            "missing",
            "Idempotency-Key header required",
            "Every POST that creates something needs an Idempotency-Key header "
            "(a unique value per operation, e.g. a UUID); retry with the same key.",
        )
    if not valid_key(key):
        raise key_problem(
            400,
            "invalid",
            "Idempotency-Key header invalid",
            "The Idempotency-Key must be 1-255 printable ASCII characters.",
        )
    return key


async def idempotency_key_guard(request: Request[Any, Any, Any]) -> None:
    """`before_request` of a creating POST: a missing or invalid key answers 400 at once."""
    require_key(request.headers.get("idempotency-key"))


def as_response(stored: StoredResponse, *, replayed: bool) -> Response[bytes]:
    headers = dict(stored.headers)
    if replayed:
        headers["idempotent-replayed"] = "true"
    return Response(
        content=stored.body,
        status_code=stored.status,
        media_type="application/json",
        headers=headers,
    )


def stored_answer(
    status: int, body: object, location: str, position: int | None = None
) -> StoredResponse:
    """A creating POST's answer as it is stored to be replayed: the body as JSON, where the
    created thing is (Location) and, when the command wrote, its position (Event-Position)."""
    headers = {"location": location}
    if position is not None:
        headers["event-position"] = str(position)
    return StoredResponse(status=status, body=msgspec.json.encode(body), headers=headers)


def caller_scope(key_id: str, scope: str) -> str:
    """Where one API key's Idempotency-Keys of one operation live."""
    return f"{key_id} {scope}"


def run_idempotent(
    store: IdempotencyStore,
    caller: Caller,
    scope: str,
    key: str,
    fingerprint: str,
    command: Callable[[], StoredResponse],
) -> Response[bytes]:
    """Run `command` once per key: replay a stored answer, refuse in-flight or reused keys.

    Keys are the caller's own: another API key's Idempotency-Key never replays this one's
    answer nor reveals that it exists (DESIGN §11). Only a successful answer is stored; if
    the command raises, the key is released.
    """
    return _run_once(store, caller_scope(caller.key_id, scope), key, fingerprint, command)


def _run_once(
    store: IdempotencyStore,
    scope: str,
    key: str,
    fingerprint: str,
    command: Callable[[], StoredResponse],
    stored_with_events: Callable[[], bool] = lambda: False,
) -> Response[bytes]:
    """run_idempotent() in a caller's scope; `stored_with_events` says, after the command,
    whether its own save stored the answer already (`AnswerWithEvents`)."""
    claim = store.claim(scope, key, fingerprint)
    if claim.outcome is ClaimOutcome.REPLAY:
        assert claim.stored is not None
        return as_response(claim.stored, replayed=True)
    if claim.outcome is ClaimOutcome.IN_FLIGHT:
        raise ProblemError(
            409,
            "idempotency-key-in-flight",
            "A request with this Idempotency-Key is still being processed",
            "Retry shortly with the same key to get its result.",
            headers={"retry-after": "1"},
        )
    if claim.outcome is ClaimOutcome.MISMATCH:
        raise key_problem(
            422,
            "reused",
            "Idempotency-Key reused with a different body",
            "This key was used for a request with another body; use a new key.",
        )
    try:
        stored = command()
    except BaseException:
        store.release(scope, key)
        raise
    if not stored_with_events():
        store.complete(scope, key, stored)
    return as_response(stored, replayed=False)


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def fingerprint(body: object, digest: Callable[[bytes], str] = sha256_hex) -> str:
    """What tells one request's body from another: its JSON with sorted keys, digested (with a
    keyed digest where it holds personal data: the key's row outlives requests, ADR 0012)."""
    return digest(msgspec.json.encode(body, order="sorted"))


@dataclass(frozen=True, slots=True)
class Once:
    """The dependency `once` of a creating POST: its Idempotency-Key, the caller whose key it
    is, and where keys are kept."""

    store: IdempotencyStore
    caller: Caller
    key: str

    @property
    def id_seed(self) -> str:
        """The key, told apart from other callers' same key: what a created thing's id is
        derived from, so that a retry finds the same thing."""
        return f"{self.caller.key_id} {self.key}"

    def run(
        self, scope: str, fingerprint: str, command: Callable[[], StoredResponse]
    ) -> Response[bytes]:
        """Run `command` once per key of this caller in `scope` (run_idempotent)."""
        return run_idempotent(self.store, self.caller, scope, self.key, fingerprint, command)

    def run_with_events(
        self,
        scope: str,
        fingerprint: str,
        render: Callable[[T, int], StoredResponse],
        command: Callable[[AnswerWithEvents[T]], tuple[StoredResponse, bool]],
    ) -> Response[bytes]:
        """run(), the answer stored by the command's own save when it saves: `command` takes
        the `AnswerWithEvents` to save with its events and says (with its answer) whether
        it did; when it did not (nothing new was saved), the answer is stored after it.

        A key not stored yet needs no claim first: the command runs at once and its save
        inserts the key with its answer (`NewAnswerWithEvents`, ADR 0002 amendment 2). Any
        other outcome of that first run (the key stored already, so the save wrote nothing;
        nothing new to save; a refusal) is decided exactly as before, by the claim: a
        replay, 409 in flight or 422 reused, or the command run again under the claimed
        key, which is safe because the first run wrote nothing."""
        scope = caller_scope(self.caller.key_id, scope)
        first = NewAnswerWithEvents(scope, self.key, render, fingerprint, self.store.ttl)
        try:
            stored, created = command(first)
        except (IntegrityError, DomainError, ProblemError):  # decided again after the claim
            created = False  # (anything else, e.g. the database down, is answered as before)
        if created:
            return as_response(stored, replayed=False)
        answer = AnswerWithEvents(scope, self.key, render)
        saved: list[bool] = [False]

        def run() -> StoredResponse:
            stored, saved[0] = command(answer)
            return stored

        return _run_once(self.store, scope, self.key, fingerprint, run, lambda: saved[0])


def once_of(
    services: ServicesDep, caller: CallerDep, idempotency_key: IdempotencyKeyHeader
) -> Once:
    """Provides `once`; the route documents its Idempotency-Key header where it names `once`."""
    return Once(services.idempotency, caller, require_key(idempotency_key))


OnceDep = NamedDependency[Once]
