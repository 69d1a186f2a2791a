"""OpenAPI document, /health and request ids."""

from __future__ import annotations

from litestar.testing import TestClient

Client = TestClient  # type: ignore[type-arg]


def test_openapi_documents_every_endpoint_with_its_problems(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    paths = document["paths"]
    assert {
        "/payments",
        "/payments/{payment_order_id}",
        "/checkouts/{checkout_id}",
        "/health",
    } <= set(paths)
    post = paths["/payments"]["post"]
    assert {"201", "400", "409", "413", "415", "422"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    body_schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["$ref"].endswith("CheckoutRequest")
    request_schema = document["components"]["schemas"]["CheckoutRequest"]
    assert set(request_schema["required"]) == {
        "buyer_info",
        "checkout_id",
        "credit_card_info",
        "payment_orders",
    }
    problem = post["responses"]["422"]["content"]["application/problem+json"]
    assert problem["schema"]["$ref"].endswith("Problem")


def test_health_checks_the_database(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_every_answer_carries_a_request_id_and_echoes_a_given_one(client: Client) -> None:
    assert len(client.get("/health").headers["x-request-id"]) == 32
    assert (
        client.get("/health", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    bogus = client.get("/health", headers={"X-Request-Id": "bad id with spaces"})
    assert bogus.headers["x-request-id"] != "bad id with spaces"


def test_metrics_endpoint_exposes_prometheus_text(client: Client) -> None:
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "payments_requests_total" in response.text
