"""POST /payments and GET /payments/{id} through the real app on real PostgreSQL."""

from __future__ import annotations

import copy
from typing import Any

from litestar.testing import TestClient

from payments.runtime.services import Services
from tests.integration.helpers import checkout_body, event_count, new_key
from tests.racing import all_at_once

Client = TestClient  # type: ignore[type-arg]


def assert_refused_storing_nothing(
    client: Client,
    services: Services,
    body: dict[str, Any],
    key: dict[str, str],
    status: int,
    problem: str,
) -> None:
    """POSTing `body` answers `status` with a problem whose type ends in `problem`, and stores
    no event."""
    count = event_count(services.pool)
    response = client.post("/payments", json=body, headers=key)
    assert response.status_code == status
    assert response.json()["type"].endswith(problem)
    assert event_count(services.pool) == count


def test_post_creates_checkout_and_orders_not_started(client: Client, services: Services) -> None:
    body = checkout_body(2)
    before = event_count(services.pool)
    response = client.post("/payments", json=body, headers=new_key())
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["checkout_id"] == body["checkout_id"]
    assert [o["status"] for o in answer["payment_orders"]] == ["NOT_STARTED", "NOT_STARTED"]
    assert answer["payment_orders"][0]["url"] == f"/payments/{body['checkout_id']}_po0"
    assert answer["payment_orders"][0]["amount"] == "10.50"
    assert int(response.headers["event-position"]) == answer["position"]
    assert event_count(services.pool) == before + 3


def test_get_returns_the_order_from_the_event_store(client: Client) -> None:
    body = checkout_body(1, amount="7.5")
    position = client.post("/payments", json=body, headers=new_key()).json()["position"]
    order_id = body["payment_orders"][0]["payment_order_id"]
    response = client.get(f"/payments/{order_id}", params={"min_position": position})
    assert response.status_code == 200
    order = response.json()
    assert order["status"] == "NOT_STARTED"
    assert order["amount"] == "7.50"
    assert order["currency"] == "USD"
    assert order["seller_account"] == "seller_0"
    assert order["checkout_id"] == body["checkout_id"]
    assert order["ledger_updated"] is False
    assert order["wallet_updated"] is False


def test_get_unknown_order_is_404_problem(client: Client) -> None:
    response = client.get("/payments/does_not_exist")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def test_get_checkout_lists_its_orders(client: Client) -> None:
    body = checkout_body(3)
    position = client.post("/payments", json=body, headers=new_key()).json()["position"]
    response = client.get(f"/checkouts/{body['checkout_id']}", params={"min_position": position})
    assert response.status_code == 200
    assert len(response.json()["payment_orders"]) == 3


def test_same_key_same_body_replays_byte_identical(client: Client, services: Services) -> None:
    body, key = checkout_body(), new_key()
    first = client.post("/payments", json=body, headers=key)
    count = event_count(services.pool)
    second = client.post("/payments", json=body, headers=key)
    assert second.status_code == first.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert event_count(services.pool) == count


def test_same_key_different_body_is_422(client: Client, services: Services) -> None:
    body, key = checkout_body(), new_key()
    client.post("/payments", json=body, headers=key)
    changed = copy.deepcopy(body)
    changed["payment_orders"][0]["amount"] = "11"
    assert_refused_storing_nothing(client, services, changed, key, 422, "idempotency-key-reused")


def test_missing_idempotency_key_is_400_and_writes_nothing(
    client: Client, services: Services
) -> None:
    count = event_count(services.pool)
    response = client.post("/payments", json=checkout_body())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert event_count(services.pool) == count


def test_key_in_flight_is_409(client: Client, services: Services) -> None:
    body, key = checkout_body(), new_key()
    import msgspec

    from payments.api.idempotency import caller_scope
    from payments.api.routes.payments import CREATE_SCOPE
    from payments.api.schemas import CheckoutRequest
    from payments.runtime.keys import parse_key

    data = msgspec.convert(body, CheckoutRequest)
    fingerprint = services.personal_data.keyed_hash(msgspec.json.encode(data, order="sorted"))
    parsed = parse_key(client.headers["authorization"].removeprefix("Bearer "))
    assert parsed is not None
    scope = caller_scope(parsed[1], CREATE_SCOPE)
    claim = services.idempotency.claim(scope, key["Idempotency-Key"], fingerprint)
    assert claim.outcome.value == "claimed"
    response = client.post("/payments", json=body, headers=key)
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    services.idempotency.release(scope, key["Idempotency-Key"])
    assert client.post("/payments", json=body, headers=key).status_code == 201


def test_keys_live_at_least_24_hours(client: Client, services: Services) -> None:
    key = new_key()
    client.post("/payments", json=checkout_body(), headers=key)
    with services.pool.connection() as conn:
        row = conn.execute(
            "SELECT expires_at - created_at >= interval '24 hours' FROM idempotency_keys "
            "WHERE key = %s",
            (key["Idempotency-Key"],),
        ).fetchone()
    assert row == (True,)


def test_same_checkout_new_key_returns_existing_with_200(
    client: Client, services: Services
) -> None:
    body = checkout_body()
    client.post("/payments", json=body, headers=new_key())
    count = event_count(services.pool)
    again = client.post("/payments", json=body, headers=new_key())
    assert again.status_code == 200
    assert event_count(services.pool) == count


def test_checkout_id_reused_with_other_body_is_409(client: Client, services: Services) -> None:
    body = checkout_body()
    client.post("/payments", json=body, headers=new_key())
    other = copy.deepcopy(body)
    other["buyer_info"] = {"name": "Someone Else"}
    assert_refused_storing_nothing(client, services, other, new_key(), 409, "checkout-conflict")


def test_payment_order_id_reused_by_another_checkout_is_409(
    client: Client, services: Services
) -> None:
    first = checkout_body(1)
    client.post("/payments", json=first, headers=new_key())
    second = checkout_body(1)
    second["payment_orders"][0]["payment_order_id"] = first["payment_orders"][0]["payment_order_id"]
    assert_refused_storing_nothing(
        client, services, second, new_key(), 409, "payment-order-conflict"
    )


def test_concurrent_identical_requests_create_the_checkout_once(
    client: Client, services: Services
) -> None:
    body, key = checkout_body(3), new_key()
    count = event_count(services.pool)
    results = all_at_once(8, lambda _: client.post("/payments", json=body, headers=key))
    statuses = sorted(r.status_code for r in results)
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    assert event_count(services.pool) == count + 4
    created = [r for r in results if r.status_code == 201]
    assert len({r.content for r in created}) == 1


def test_concurrent_same_checkout_different_keys_create_once(
    client: Client, services: Services
) -> None:
    body = checkout_body(2)
    count = event_count(services.pool)
    results = all_at_once(
        6, lambda _: client.post("/payments", json=body, headers=new_key()).status_code
    )
    assert sorted(results).count(201) == 1
    assert set(results) <= {200, 201}
    assert event_count(services.pool) == count + 3
