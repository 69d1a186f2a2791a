"""Small helpers for HTTP tests against the real app and database."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg_pool import ConnectionPool


def checkout_body(
    n_orders: int = 2, *, amount: str = "10.50", token: str = "tok_visaexample"
) -> dict[str, Any]:
    checkout_id = f"co_{uuid.uuid4().hex[:20]}"
    return {
        "buyer_info": {"name": "Ada Buyer", "email": "ada@example.com"},
        "checkout_id": checkout_id,
        "credit_card_info": {"token": token, "brand": "visa", "last4": "4242"},
        "payment_orders": [
            {
                "seller_account": f"seller_{i}",
                "amount": amount,
                "currency": "USD",
                "payment_order_id": f"{checkout_id}_po{i}",
            }
            for i in range(n_orders)
        ],
    }


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def event_count(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM payments_events").fetchone()
        assert row is not None
        return int(row[0])


def idempotency_rows(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM idempotency_keys").fetchone()
        assert row is not None
        return int(row[0])
