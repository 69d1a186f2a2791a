from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from payments.domain.payment_order import Status
from payments.psp.signing import sign_payload
from tests.e2e.processes import Process
from tests.executor.conftest import WEBHOOK_SECRET, Stack
from tests.waiting import wait_until


def place(stack: Stack, token: str, amounts: list[str]) -> list[str]:
    """POST a checkout through the real API; returns its payment_order_ids."""
    checkout_id = f"co_{uuid.uuid4().hex[:16]}"
    orders = [
        {
            "seller_account": f"seller_{i}",
            "amount": amount,
            "currency": "USD",
            "payment_order_id": f"{checkout_id}_{i}",
        }
        for i, amount in enumerate(amounts)
    ]
    body: dict[str, Any] = {
        "buyer_info": {"name": "Test"},
        "checkout_id": checkout_id,
        "credit_card_info": {"token": token},
        "payment_orders": orders,
    }
    response = stack.http.post("/payments", json=body, headers={"Idempotency-Key": checkout_id})
    assert response.status_code == 201, response.text
    return [o["payment_order_id"] for o in orders]


def terminal(stack: Stack, *order_ids: str) -> bool:
    return all(stack.order(i).status in (Status.SUCCESS, Status.FAILED) for i in order_ids)


def event_names(stack: Stack, payment_order_id: str) -> list[str]:
    order = stack.order(payment_order_id)
    return [type(e).__name__ for e in stack.services.application.events.get(order.id)]


def psp_event(event_id: str, event_type: str, psp_object: dict[str, Any]) -> dict[str, Any]:
    """A webhook event as the PSP sends one, created now, about `psp_object`."""
    return {
        "id": event_id,
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": psp_object},
    }


def post_event(
    stack: Stack,
    payload: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    """POST /webhooks/psp, signed with `secret` at `timestamp` (now) as the PSP signs."""
    body = json.dumps(payload).encode()
    header = sign_payload(secret, body, timestamp if timestamp is not None else int(time.time()))
    return stack.http.post(
        "/webhooks/psp",
        content=body,
        headers={"PSP-Signature": header, "content-type": "application/json"},
    )


def kill_worker_when(stack: Stack, log: Path, in_flight: Callable[[], bool]) -> None:
    """Start a `payments worker`, wait until `in_flight` holds (its PSP calls sent and slow,
    by a latency fault), then SIGKILL it mid-call."""
    worker = Process(["worker"], stack.env, log)
    try:
        wait_until(in_flight, timeout=30.0)
        worker.kill()
    finally:
        if worker.popen.poll() is None:
            worker.kill()
        stack.sandbox.clear_faults()


def restart_worker_until(stack: Stack, log: Path, *done: Callable[[], bool]) -> None:
    """Start a new `payments worker` and stop it once each of `done` holds, in turn."""
    restarted = Process(["worker"], stack.env, log)
    try:
        for condition in done:
            wait_until(condition, timeout=30.0)
    finally:
        restarted.interrupt()
