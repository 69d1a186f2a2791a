"""Fault injection: rules an admin adds, consumed atomically by the calls they hit.

Request faults (charges, payouts, refunds, accounts, tokens, bank_tokens): latency, timeout,
status, reset. Lying faults, for the creates that are idempotent by key (charges, payouts,
refunds, accounts): charged_but_500, charged_but_404, key_conflict_400 (the call is processed
and recorded, and the answer says otherwise).
Webhook faults: drop_webhook, duplicate_webhook, delay_webhook, reorder_webhooks; with an
endpoint they hit only the events about that endpoint's objects (`charges` hits `charge.*`,
`disputes` hits `dispute.*`), with `*` every event; with an `object_id`, only the events
about that one object.
A rule with `count` hits that many calls and disappears; with `until` it ends at that instant;
with neither it stays until `DELETE /admin/faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, Response

from payments.psp.sandbox.admin_models import FaultRuleRequest, FaultRuleView
from payments.psp.sandbox.identifiers import utc_now
from payments.psp.sandbox.problems import (
    KEY_REUSED_DETAIL,
    KEY_REUSED_TITLE,
    FieldError,
    ProblemError,
    problem_response,
)

REQUEST_FAULTS = frozenset({"latency", "timeout", "status", "reset"})
# Faults that act after a create call was processed and recorded, and lie about it.
LYING_FAULTS = ("charged_but_500", "charged_but_404", "key_conflict_400")
WEBHOOK_FAULTS = frozenset(
    {"drop_webhook", "duplicate_webhook", "delay_webhook", "reorder_webhooks"}
)
ENDPOINTS = frozenset(
    {"charges", "payouts", "refunds", "tokens", "accounts", "bank_tokens", "disputes", "*"}
)
FAULT_STATUSES = frozenset({500, 502, 503, 504, 429})


@dataclass
class FaultRule:
    id: int
    kind: str
    endpoint: str
    object_id: str | None
    status: int | None
    latency_ms: int | None
    remaining: int | None
    until: datetime | None

    def is_active(self, now: datetime) -> bool:
        alive = self.remaining is None or self.remaining > 0
        return alive and (self.until is None or now < self.until)

    def view(self) -> FaultRuleView:
        until = self.until.isoformat() if self.until else None
        return FaultRuleView(
            self.id,
            self.kind,
            self.endpoint,
            self.object_id,
            self.status,
            self.latency_ms,
            self.remaining,
            until,
        )


def rule_from_request(request: FaultRuleRequest, rule_id: int) -> FaultRule:
    """Validate one admin rule; a bad one becomes a 422 naming the field."""

    def refuse(field: str, message: str) -> ProblemError:
        return ProblemError(422, "Invalid fault", message, [FieldError(field, message)])

    if request.kind not in REQUEST_FAULTS | WEBHOOK_FAULTS | set(LYING_FAULTS):
        raise refuse("kind", f"unknown fault kind {request.kind!r}")
    if request.endpoint not in ENDPOINTS:
        raise refuse("endpoint", f"endpoint must be one of {sorted(ENDPOINTS)}")
    webhook = request.kind in WEBHOOK_FAULTS
    if request.endpoint == "disputes" and not webhook:
        raise refuse("endpoint", "disputes takes webhook faults only (no call to it is faulted)")
    if request.object_id is not None and not webhook:
        raise refuse("object_id", "object_id aims webhook faults only")
    status = request.status
    if request.kind == "status":
        status = status or 503
        if status not in FAULT_STATUSES:
            raise refuse("status", f"status must be one of {sorted(FAULT_STATUSES)}")
    until = None
    if request.until is not None:
        try:
            until = datetime.fromisoformat(request.until.replace("Z", "+00:00"))
        except ValueError:
            raise refuse("until", "until must be an ISO 8601 instant") from None
        if until.tzinfo is None:
            raise refuse("until", "until must carry a time zone (e.g. Z)")
    remaining = request.count
    if request.kind == "reorder_webhooks" and remaining is None:
        remaining = 2  # reordering needs a group to shuffle: the next two events by default
    return FaultRule(
        id=rule_id,
        kind=request.kind,
        endpoint=request.endpoint,
        object_id=request.object_id,
        status=status,
        latency_ms=request.latency_ms,
        remaining=remaining,
        until=until,
    )


def event_endpoint(event_type: str) -> str:
    """The endpoint whose objects an event is about: `charge.succeeded` -> `charges`."""
    return event_type.partition(".")[0] + "s"


class FaultBook:
    """The active rules; `take` finds and consumes one use under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, requests: list[FaultRuleRequest]) -> list[FaultRule]:
        with self._lock:
            rules = [rule_from_request(request, next(self._ids)) for request in requests]
            self._rules.extend(rules)
            return rules

    def active(self) -> list[FaultRule]:
        now = utc_now()
        with self._lock:
            self._rules = [rule for rule in self._rules if rule.is_active(now)]
            return list(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(
        self, kind: str, endpoint: str = "*", object_id: str | None = None
    ) -> FaultRule | None:
        """Consume one use of the first active rule of `kind` that covers `endpoint` (and,
        for a rule aimed at one object, that object)."""
        now = utc_now()
        with self._lock:
            for rule in self._rules:
                covers = rule.endpoint in ("*", endpoint) or endpoint == "*"
                covers = covers and rule.object_id in (None, object_id)
                if rule.kind == kind and covers and rule.is_active(now):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule
            return None

    def has_active(self, kind: str) -> bool:
        now = utc_now()
        with self._lock:
            return any(rule.kind == kind and rule.is_active(now) for rule in self._rules)


def abort_connection(request: Request[Any, Any, Any]) -> bool:
    """Reset the client's TCP connection without any HTTP answer (uvicorn's h11 or httptools
    protocol).

    The ASGI `receive` callable is bound to uvicorn's request cycle, which holds the transport;
    SO_LINGER 0 makes the close a TCP RST, so the client sees a connection reset.
    Returns False when the server is not uvicorn (the caller then answers 500 instead).
    """
    cycle = getattr(request.receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    cycle.disconnected = True  # uvicorn then sends nothing more on this cycle
    transport.abort()
    return True


async def apply_request_faults(
    faults: FaultBook, request: Request[Any, Any, Any], endpoint: str, timeout_fault_s: float
) -> Response[bytes] | None:
    """Act on the faults aimed at this call before it is processed; a Response ends the call."""
    latency = faults.take("latency", endpoint)
    if latency is not None:
        await asyncio.sleep((latency.latency_ms or 1000) / 1000)
    if faults.take("reset", endpoint) is not None and abort_connection(request):
        return Response(content=b"", status_code=500)  # never reaches the client
    if faults.take("timeout", endpoint) is not None:
        await asyncio.sleep(timeout_fault_s)
        return problem_response(
            ProblemError(504, "Gateway timeout", "injected timeout fault").problem
        )
    status_rule = faults.take("status", endpoint)
    if status_rule is not None:
        status = status_rule.status or 503
        headers = {"Retry-After": "1"} if status in (429, 503) else {}
        return problem_response(
            ProblemError(status, "Injected fault", f"injected status {status}").problem, headers
        )
    return None


def answer_after_processing(faults: FaultBook, endpoint: str) -> Response[bytes] | None:
    """A lie about a create call that was processed and recorded, if a rule asks for one.

    charged_but_500: a 500; charged_but_404: a 404 as if nothing were there; key_conflict_400: a
    400 with the title and detail of an Idempotency-Key conflict. In each case the object exists
    and the same key replays the true answer, so only a look-up tells the truth: what a client
    must do with a 4xx that is not final.
    """
    for kind in LYING_FAULTS:
        if faults.take(kind, endpoint) is not None:
            return problem_response(_lie(kind, endpoint).problem)
    return None


def _lie(kind: str, endpoint: str) -> ProblemError:
    if kind == "charged_but_404":
        return ProblemError(404, "Not found", "no such resource")
    if kind == "key_conflict_400":
        return ProblemError(400, KEY_REUSED_TITLE, KEY_REUSED_DETAIL)
    return ProblemError(
        500, "Injected fault", f"the {endpoint} call was processed, but answered 500"
    )
