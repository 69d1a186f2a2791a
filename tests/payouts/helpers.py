from __future__ import annotations

import uuid
from typing import Any

import httpx

from payments.domain.payout import Payout, PayoutStatus
from payments.domain.payout_commands import payout_id_for_key
from payments.projections.views.ledger_pg import PostgresLedger
from payments.projections.views.wallets import Wallet
from payments.projections.views.wallets_pg import PostgresWallets
from payments.runtime.keys import parse_key
from tests.executor.conftest import Stack
from tests.executor.helpers import terminal
from tests.integration.helpers import seller_checkout


def seller(prefix: str = "s") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


VERIFIED_ID, REJECTED_ID, PENDING_ID = "000000000", "111111111", "123456789"


def bank_token(stack: Stack) -> str:
    """A bank token from the sandbox (the only payout destination a seller may give)."""
    answer = httpx.post(
        f"{stack.sandbox.url}/v1/bank_tokens",
        json={"holder_name": "Ada Seller", "iban": "DE89370400440532013000"},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def seller_body(stack: Stack, seller_account: str, id_number: str) -> dict[str, Any]:
    return {
        "seller_account": seller_account,
        "legal_name": f"Shop {seller_account}",
        "country": "DE",
        "bank_token": bank_token(stack),
        "contact": {"email": "ada@example.com", "phone": "+4930123456"},
        "id_number": id_number,
    }


def onboard(stack: Stack, seller_account: str, id_number: str = VERIFIED_ID) -> Any:
    """Register the seller and submit its KYC to the sandbox (VERIFIED_ID passes at once)."""
    answer = stack.http.post(
        "/sellers",
        json=seller_body(stack, seller_account, id_number),
        headers={"Idempotency-Key": f"onboard-{seller_account}"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def credit(stack: Stack, seller_account: str, amounts: list[str]) -> None:
    """Charge one order per amount for the seller, until each SUCCEEDS and the wallet has it;
    a seller not registered yet is onboarded first, verified (payouts need KYC)."""
    if stack.services.sellers.find(seller_account) is None:
        onboard(stack, seller_account)
    body = seller_checkout(seller_account, amounts, stack.sandbox.token("success"))
    key = {"Idempotency-Key": body["checkout_id"]}
    answer = stack.http.post("/payments", json=body, headers=key)
    assert answer.status_code == 201, answer.text
    ids = [o["payment_order_id"] for o in body["payment_orders"]]
    stack.settle(lambda: terminal(stack, *ids))
    stack.services.catch_up_wallets()  # released (0 days here), then credited


def post_payout(
    stack: Stack, seller_account: str, amount: str | None = None, key: str | None = None
) -> httpx.Response:
    body: dict[str, str] = {"seller_account": seller_account}
    if amount is not None:
        body["amount"] = amount
    return stack.http.post(
        "/payouts",
        json=body,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def payout(stack: Stack, payout_id: str) -> Payout:
    return stack.services.application.get_payout(payout_id)


def settle_payout(stack: Stack, payout_id: str, *statuses: PayoutStatus) -> Payout:
    stack.settle(lambda: payout(stack, payout_id).status in statuses)
    stack.executor.run_until_idle()  # the follower settles or releases the wallet
    return payout(stack, payout_id)


def wallet_view(stack: Stack, seller_account: str) -> Wallet | None:
    return PostgresWallets(stack.services.pool).wallet(seller_account)


def seller_balance(stack: Stack, seller_account: str) -> int:
    """What the ledger says we owe the seller (credit-positive)."""
    account = PostgresLedger(stack.services.pool).balance(f"seller:{seller_account}")
    return -account.balance_minor if account else 0


def view_shows(stack: Stack, seller_account: str, available: int, in_transit: int) -> bool:
    wallet = wallet_view(stack, seller_account)
    return (
        wallet is not None
        and (wallet.available_minor, wallet.in_transit_minor) == (available, in_transit)
        and seller_balance(stack, seller_account) == available
    )


def payouts_at_psp(stack: Stack, payout_id: str) -> int:
    answer = httpx.get(f"{stack.sandbox.url}/admin/payouts/count", params={"reference": payout_id})
    return int(answer.json()["payouts"])


def api_get(stack: Stack, path: str) -> Any:
    answer = stack.http.get(f"{path}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def api_post(stack: Stack, path: str, body: dict[str, Any]) -> Any:
    answer = stack.http.post(f"{path}", json=body)
    assert answer.status_code in (200, 201, 202), answer.text
    return answer.json()


def requested_payout_id(stack: Stack, idempotency_key: str) -> str:
    """The payout a POST /payouts with this Idempotency-Key by the stack's key creates."""
    parsed = parse_key(stack.http.headers["authorization"].removeprefix("Bearer "))
    assert parsed is not None
    return payout_id_for_key(f"{parsed[1]} {idempotency_key}")
