"""Small helpers for HTTP tests against the real app and database."""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from payments.domain.checkout import Checkout
from payments.projections.event_store import EVENTS_TABLE
from tests.racing import kill_when


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


def seller_checkout(
    seller: str, amounts: list[str], token: str, buyer_info: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A checkout body paying `seller` one order per amount (ids `<checkout_id>_<i>`)."""
    checkout_id = f"co_{uuid.uuid4().hex[:16]}"
    return {
        "buyer_info": buyer_info or {},
        "checkout_id": checkout_id,
        "credit_card_info": {"token": token},
        "payment_orders": [
            {
                "seller_account": seller,
                "amount": amount,
                "currency": "USD",
                "payment_order_id": f"{checkout_id}_{i}",
            }
            for i, amount in enumerate(amounts)
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


def checkouts_stored(pool: ConnectionPool) -> dict[UUID, str]:
    """Every checkout in the event store: its aggregate id and its checkout_id."""
    with pool.connection() as conn:
        rows = conn.execute(
            f"SELECT originator_id, state FROM {EVENTS_TABLE} WHERE topic = %s",
            (Checkout.Created.TOPIC,),
        ).fetchall()
    return {row[0]: json.loads(bytes(row[1]))["checkout_id"] for row in rows}


PLACED_BEFORE_KILL = 300


def kill_after_placing(script: str, database_url: str, pool: ConnectionPool) -> None:
    """Run `script` (a child placing checkouts into `database_url`) and SIGKILL it once
    PLACED_BEFORE_KILL checkouts are stored."""
    kill_when(script, database_url, lambda: len(checkouts_stored(pool)) >= PLACED_BEFORE_KILL)
