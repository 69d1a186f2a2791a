from __future__ import annotations

import uuid
from typing import Any

from payments.domain.payment_order import Status
from tests.executor.conftest import Stack


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
