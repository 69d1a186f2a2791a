"""PAYMENTS_UNVERIFIED_SELLERS=refuse: checkouts only for verified sellers, over HTTP."""

from __future__ import annotations

from typing import Any

from tests.executor.conftest import Stack, stack_fixture
from tests.payouts.helpers import PENDING_ID, VERIFIED_ID, onboard, seller

stack = stack_fixture(PAYMENTS_UNVERIFIED_SELLERS="refuse")


def _checkout(stack: Stack, checkout_id: str, *sellers: str) -> Any:
    body = {
        "buyer_info": {},
        "checkout_id": checkout_id,
        "credit_card_info": {"token": stack.sandbox.token("success")},
        "payment_orders": [
            {
                "seller_account": account,
                "amount": "5.00",
                "currency": "USD",
                "payment_order_id": f"{checkout_id}_{i}",
            }
            for i, account in enumerate(sellers)
        ],
    }
    return stack.http.post("/payments", json=body, headers={"Idempotency-Key": checkout_id})


def test_only_verified_sellers_are_charged_for(stack: Stack) -> None:
    verified, pending, unknown = seller("v"), seller("p"), seller("u")
    onboard(stack, verified, VERIFIED_ID)
    onboard(stack, pending, PENDING_ID)
    refused = _checkout(stack, f"co_{unknown}", verified, pending, unknown)
    assert refused.status_code == 422, refused.text
    errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
    assert set(errors) == {"payment_orders[1].seller_account", "payment_orders[2].seller_account"}
    assert f"co_{unknown}_1" in errors["payment_orders[1].seller_account"]
    assert "KYC pending" in errors["payment_orders[1].seller_account"]
    assert "not onboarded" in errors["payment_orders[2].seller_account"]
    assert stack.http.get(f"/checkouts/co_{unknown}").status_code == 404  # nothing written
    accepted = _checkout(stack, f"co_{verified}", verified)
    assert accepted.status_code == 201, accepted.text
