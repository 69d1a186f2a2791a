"""A whole stack (API over HTTP, sandbox PSP, executor, real PostgreSQL) with risk rules."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.executor.conftest import Stack, running_stack

RULES = """
[[rule]]
name = "card_velocity"
kind = "velocity"
key = "card_fingerprint"
max_count = 5
window_s = 3600
action = "decline"

[[rule]]
name = "large_order"
kind = "amount"
max_order_amount = "500.00"
action = "review"

[[rule]]
name = "blocked_sellers"
kind = "blocklist"
sellers = ["seller_blocked"]
action = "decline"
"""


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("risk") / "rules.toml"
    path.write_text(RULES)
    return path


@pytest.fixture(scope="module")
def stack(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory, rules_file: Path
) -> Iterator[Stack]:
    with running_stack(
        admin_database_url, tmp_path_factory, PAYMENTS_RISK_RULES=str(rules_file)
    ) as running:
        yield running


def card(stack: Stack, number: str = "4242424242424242") -> dict[str, str]:
    """A fresh token of the card at the sandbox, with the PSP's fingerprint of it."""
    answer = httpx.post(
        f"{stack.sandbox.url}/v1/tokens",
        json={"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
    )
    assert answer.status_code == 201, answer.text
    token = answer.json()
    return {"token": token["token"], "fingerprint": token["fingerprint"]}


def checkout_body(
    card_info: dict[str, str], *orders: tuple[str, str], buyer: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A checkout of (seller, amount) orders with new ids."""
    checkout_id = f"co_{uuid.uuid4().hex[:16]}"
    return {
        "checkout_id": checkout_id,
        "buyer_info": buyer or {"name": "Risk Test"},
        "credit_card_info": card_info,
        "payment_orders": [
            {
                "payment_order_id": f"{checkout_id}_{i}",
                "seller_account": seller,
                "amount": amount,
                "currency": "USD",
            }
            for i, (seller, amount) in enumerate(orders)
        ],
    }


def post_checkout(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post("/payments", json=body, headers={"Idempotency-Key": body["checkout_id"]})
