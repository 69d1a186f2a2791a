"""The views over HTTP, through the real app: read-your-writes, listing, ledger, wallets."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from payments.api import reads as order_views
from payments.domain.ids import payment_order_uuid
from payments.domain.payment_order import PaymentOrder
from payments.projections.catalog import NAMES
from payments.projections.service import ProjectionService
from payments.runtime.services import Services
from tests.conftest import api_client
from tests.projections.events import new_order

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture(scope="module")
def running(module_services: Services) -> Iterator[ProjectionService]:
    service = ProjectionService(
        module_services.application,
        module_services.pool,
        module_services.database_url,
        NAMES,
        idle_wait=0.2,
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def client(module_services: Services, running: ProjectionService) -> Iterator[Client]:
    with api_client(module_services) as test_client:
        yield test_client


def body(orders: int = 1, seller: str = "seller_a", amount: str = "10.50") -> dict[str, Any]:
    checkout_id = f"co_{uuid.uuid4().hex[:16]}"
    return {
        "buyer_info": {"email": "ada@example.com"},
        "checkout_id": checkout_id,
        "credit_card_info": {"token": "tok_visa"},
        "payment_orders": [
            {
                "seller_account": seller,
                "amount": amount,
                "currency": "USD",
                "payment_order_id": f"{checkout_id}_{i}",
            }
            for i in range(orders)
        ],
    }


def place(client: Client, payload: dict[str, Any]) -> int:
    response = client.post("/payments", json=payload, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.text
    assert int(response.headers["event-position"]) == response.json()["position"]
    return int(response.json()["position"])


def succeed(services: Services, payment_order_id: str) -> int:
    app = services.application
    order = app.repository.get(payment_order_uuid(payment_order_id))
    assert isinstance(order, PaymentOrder)
    order.start_execution()
    order.record_success(f"ch_{payment_order_id}", source="test")
    return app.save(order)[-1].notification.id


def test_post_then_get_with_the_position_is_never_stale(client: Client) -> None:
    for _ in range(15):
        payload = body(orders=2)
        position = place(client, payload)
        order_id = payload["payment_orders"][1]["payment_order_id"]
        response = client.get(f"/payments/{order_id}", params={"min_position": position})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "NOT_STARTED"
        checkout = client.get(
            f"/checkouts/{payload['checkout_id']}", headers={"Min-Position": str(position)}
        )
        assert checkout.status_code == 200
        assert [o["payment_order_id"] for o in checkout.json()["payment_orders"]] == [
            o["payment_order_id"] for o in payload["payment_orders"]
        ]


def test_ledger_and_wallet_flags_turn_true_only_with_postings(
    client: Client, module_services: Services
) -> None:
    payload = body(seller="seller_flags", amount="12.34")
    position = place(client, payload)
    order_id = payload["payment_orders"][0]["payment_order_id"]
    before = client.get(f"/payments/{order_id}", params={"min_position": position}).json()
    assert (before["ledger_updated"], before["wallet_updated"]) == (False, False)
    position = succeed(module_services, order_id)
    client.get("/wallets/seller_flags", params={"min_position": position})
    client.get("/ledger/trial-balance", params={"min_position": position})
    after = client.get(f"/payments/{order_id}", params={"min_position": position}).json()
    assert after["status"] == "SUCCESS"
    assert (after["ledger_updated"], after["wallet_updated"]) == (True, True)
    wallet = client.get("/wallets/seller_flags").json()
    assert (wallet["available"], wallet["pending"], wallet["currency"]) == ("0.00", "12.34", "USD")
    account = client.get("/ledger/accounts/seller:seller_flags:pending").json()
    assert account["balance"] == "-12.34"
    assert account["entries"][0]["credit"] == "12.34"
    assert account["entries"][0]["payment_order_id"] == order_id
    trial = client.get("/ledger/trial-balance").json()
    assert trial["total"] == "0.00"
    assert trial["balanced"] is True
    assert {a["account"] for a in trial["accounts"]} >= {
        "psp_receivable",
        "seller:seller_flags:pending",
    }


def test_a_view_that_cannot_catch_up_answers_503_with_retry_after(
    client: Client, module_services: Services, running: ProjectionService, monkeypatch: Any
) -> None:
    monkeypatch.setattr(order_views, "READ_YOUR_WRITES_TIMEOUT_SECONDS", 0.2)
    app = module_services.application
    order = new_order(f"po_{uuid.uuid4().hex[:8]}", seller="s", amount=1, checkout="co_x")
    with module_services.pool.connection() as conn, conn.transaction():
        # Hold the order status view's write lock: its runner cannot apply the new event.
        from payments.projections.pg import WRITE_LOCK_CLASS, lock_key

        conn.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", (WRITE_LOCK_CLASS, lock_key("order_status"))
        )
        position = app.save(order)[-1].notification.id
        response = client.get(
            f"/payments/{order.payment_order_id}", params={"min_position": position}
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("view-not-caught-up")
    answer = client.get(f"/payments/{order.payment_order_id}", params={"min_position": position})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_position": "abc"}, "min_position"),
        ({"min_position": "-1"}, "min_position"),
        ({"status": "DONE"}, "status"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_to": "2025-01-01T00:00:00"}, "created_to"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"seller_account": "bad seller"}, "seller_account"),
    ],
)
def test_bad_listing_parameters_are_422_naming_the_parameter(
    client: Client, params: dict[str, str], field: str
) -> None:
    response = client.get("/payments", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field


def test_listing_filters_and_pages_with_a_cursor(client: Client, module_services: Services) -> None:
    seller = f"seller_{uuid.uuid4().hex[:8]}"
    position = 0
    for _ in range(5):
        position = place(client, body(orders=2, seller=seller))
    listed = client.get(
        "/payments", params={"seller_account": seller, "min_position": position, "limit": 200}
    ).json()
    assert len(listed["items"]) == 10
    assert listed["next_cursor"] is None
    succeeded = listed["items"][3]["payment_order_id"]
    position = succeed(module_services, succeeded)
    ids, cursor = [], None
    while True:
        params: dict[str, Any] = {"seller_account": seller, "limit": 3, "min_position": position}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/payments", params=params).json()
        ids += [o["payment_order_id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert ids == [o["payment_order_id"] for o in listed["items"]]
    only_success = client.get("/payments", params={"seller_account": seller, "status": "SUCCESS"})
    assert [o["payment_order_id"] for o in only_success.json()["items"]] == [succeeded]
    newest = listed["items"][0]["created_at"]
    window = client.get(
        "/payments",
        params={"seller_account": seller, "created_from": newest.replace("+00:00", "Z")},
    ).json()["items"]
    assert listed["items"][0]["payment_order_id"] in [o["payment_order_id"] for o in window]
    assert all(o["created_at"] >= newest for o in window)


def test_unknown_things_are_404_problems(client: Client) -> None:
    for path in (
        "/payments/nope",
        "/checkouts/nope",
        "/wallets/nobody",
        "/ledger/accounts/nothing",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")


def test_metrics_expose_position_and_lag_per_projection(client: Client) -> None:
    position = place(client, body())
    deadline = time.monotonic() + 5
    text = ""
    while time.monotonic() < deadline:
        text = client.get("/metrics").text
        if f'payments_projection_position{{projection="ledger"}} {float(position)}' in text:
            break
        time.sleep(0.05)
    for name in NAMES:
        assert f'payments_projection_position{{projection="{name}"}}' in text
        assert f'payments_projection_lag_events{{projection="{name}"}}' in text
        assert f'payments_projection_lag_seconds{{projection="{name}"}}' in text
    assert 'payments_projection_running{projection="order_status"} 1.0' in text
