"""A client generated from the served OpenAPI document drives the README walk-through.

openapi-python-client must generate it without a warning (its config beside this file only
says that a text/csv body is a file); then the generated functions and models place a
checkout with a sandbox token, read the order back at once, list orders, read the ledger
and a wallet, and read a refusal as a Problem naming the field.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import httpx
import pytest

from tests.conformance.conftest import Served

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
CONFIG = Path(__file__).with_name("openapi-python-client.yaml")
T = TypeVar("T")


@pytest.fixture(scope="module")
def generated(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Generate the client package from the live document; its generator output."""
    base = tmp_path_factory.mktemp("client")
    document = base / "openapi.json"
    document.write_bytes(httpx.get(f"{served.url}/schema/openapi.json", timeout=10).content)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [GENERATOR, "generate", "--path", str(document), "--meta", "none", "--config", str(CONFIG)],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(base))
    try:
        yield result.stdout + result.stderr
    finally:
        sys.path.remove(str(base))
        for name in [m for m in sys.modules if m.split(".")[0] == "payments_client"]:
            del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"payments_client.{name}")


def eventually(read: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := read()) is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_the_generator_reports_no_warning(generated: str) -> None:
    assert "warning" not in generated.lower(), generated


@pytest.mark.slow
def test_the_readme_walk_through_with_the_generated_client(generated: str, served: Served) -> None:
    client = module("client").AuthenticatedClient(
        base_url=served.url, token=served.key, raise_on_unexpected_status=True
    )
    models = module("models")
    api = {
        name: module(f"api.{name}")
        for name in (
            "payments.create_checkout",
            "payments.get_payment_order",
            "payments.get_checkout",
            "payments.list_payment_orders",
            "ledger.get_ledger_account",
            "wallets.get_wallet",
        )
    }
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    token = httpx.post(f"{served.sandbox_url}/v1/tokens", json=card, timeout=10).json()["token"]
    run = uuid.uuid4().hex[:10]
    seller = f"seller_{run}"
    body: dict[str, Any] = {
        "checkout_id": f"co_{run}",
        "buyer_info": {"name": "Ada Buyer", "email": "ada@example.com"},
        "credit_card_info": {"token": token, "brand": "visa", "last4": "4242"},
        "payment_orders": [
            {"payment_order_id": f"po_{run}_a", "seller_account": seller,
             "amount": "25.00", "currency": "USD"},
            {"payment_order_id": f"po_{run}_b", "seller_account": f"{seller}_b",
             "amount": "7.5", "currency": "USD"},
        ],
    }  # fmt: skip

    created = api["payments.create_checkout"].sync_detailed(
        client=client,
        body=models.CheckoutRequest.from_dict(body),
        idempotency_key=f"readme-{run}",
    )
    assert created.status_code == 201
    checkout = created.parsed
    assert isinstance(checkout, models.CheckoutResponse)
    assert [o.amount for o in checkout.payment_orders] == ["25.00", "7.50"]
    assert created.headers["location"] == f"/checkouts/co_{run}"

    # Read back at once, without a position: never a 404 (ADR 0011).
    order = api["payments.get_payment_order"].sync(f"po_{run}_a", client=client)
    assert isinstance(order, models.PaymentOrderResponse)
    assert order.status in {"NOT_STARTED", "EXECUTING", "SUCCESS"}
    assert order.checkout_id == f"co_{run}"
    read_checkout = api["payments.get_checkout"].sync(f"co_{run}", client=client)
    assert isinstance(read_checkout, models.CheckoutResponse)
    assert len(read_checkout.payment_orders) == 2

    def succeeded() -> Any:
        found = api["payments.get_payment_order"].sync(f"po_{run}_a", client=client)
        return found if str(found.status) == "SUCCESS" else None

    eventually(succeeded, "the sandbox charge")
    page = api["payments.list_payment_orders"].sync(
        client=client, seller_account=seller, min_position_query=checkout.position
    )
    assert isinstance(page, models.PaymentOrderPage)
    assert [o.payment_order_id for o in page.items] == [f"po_{run}_a"]

    ledger = api["ledger.get_ledger_account"].sync("psp_receivable", client=client)
    assert isinstance(ledger, models.AccountResponse)
    assert ledger.currency == "USD"

    def credited() -> Any:
        wallet = api["wallets.get_wallet"].sync_detailed(seller, client=client)
        return wallet.parsed if wallet.status_code == 200 else None

    wallet = eventually(credited, "the wallet credit")
    assert isinstance(wallet, models.WalletResponse)
    assert wallet.seller_account == seller

    refused_body = {**body, "checkout_id": f"co_{run}_bad"}
    refused_body["payment_orders"] = [{**body["payment_orders"][0], "amount": "1e3",
                                       "payment_order_id": f"po_{run}_bad"}]  # fmt: skip
    refused = api["payments.create_checkout"].sync_detailed(
        client=client,
        body=models.CheckoutRequest.from_dict(refused_body),
        idempotency_key=f"readme-{run}-bad",
    )
    assert refused.status_code == 422
    assert isinstance(refused.parsed, models.Problem)
    assert [e.field for e in refused.parsed.errors] == ["payment_orders[0].amount"]
