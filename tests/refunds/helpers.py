from __future__ import annotations

import uuid
from typing import Any

import httpx

from payments.domain.payment_order import Status
from payments.domain.refund import Refund
from tests.executor.conftest import Stack
from tests.executor.helpers import place

FAILING_REFUNDS_CARD = "4000000000005126"  # the sandbox charges it, and fails every refund


def captured_order(stack: Stack, amount: str = "10.00", card: str = "success") -> str:
    """A payment order charged at the sandbox (SUCCESS)."""
    [order_id] = place(stack, stack.sandbox.token(card), [amount])
    stack.settle(lambda: stack.order(order_id).status is Status.SUCCESS)
    return order_id


def post_refund(
    stack: Stack,
    order_id: str,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    return (client or stack.http).post(
        f"/payments/{order_id}/refunds",
        json={} if body is None else body,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def refund(stack: Stack, refund_id: str) -> Refund:
    return stack.services.refunds.get(refund_id)


def settled(stack: Stack, *refund_ids: str) -> bool:
    return all(refund(stack, refund_id).is_terminal for refund_id in refund_ids)


def refunds_at_psp(stack: Stack, refund_id: str) -> int:
    """How many refunds the sandbox holds for our reference."""
    answer = httpx.get(f"{stack.sandbox.url}/v1/refunds", params={"reference": refund_id})
    if answer.status_code == 404:
        return 0
    assert answer.status_code == 200, answer.text
    return len(answer.json()["data"])


def refund_event_names(stack: Stack, refund_id: str) -> list[str]:
    events = stack.services.application.events.get(refund(stack, refund_id).id)
    return [type(e).__name__ for e in events]
