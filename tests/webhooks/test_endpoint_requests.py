"""What the endpoints' API refuses, and who may call it: each wrong request a problem that
writes nothing (ADR 0027)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from payments.projections.pg import fetch_all
from payments.runtime.services import Services
from payments.runtime.webhook_sender import NotPublic, public_address
from tests.conftest import NO_RATE_LIMITS, api_client, bearer, services_on_new_database
from tests.webhooks.conftest import AUDIT_KEY

Client = TestClient[Litestar]
GOOD = {"url": "https://shop.example/hooks", "event_types": ["payment_order.succeeded"]}


@pytest.fixture(scope="module")
def services(admin_database_url: str) -> Iterator[Services]:
    with services_on_new_database(
        admin_database_url, PAYMENTS_AUDIT_KEY=AUDIT_KEY, **NO_RATE_LIMITS
    ) as built:
        yield built


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[Client]:
    with api_client(services, role="merchant") as merchant:
        yield merchant


def create(client: Client, body: Any, key: str | None = None) -> Any:
    return client.post(
        "/webhook-endpoints", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex}
    )


def endpoint_count(services: Services) -> int:
    return len(services.webhooks.endpoints())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "url": "ftp://shop.example/"}, "url"),
        ({**GOOD, "url": "https://user:pw@shop.example/"}, "url"),
        ({**GOOD, "url": "https://shop.example/#x"}, "url"),
        ({**GOOD, "url": "not a url"}, "url"),
        ({**GOOD, "url": ""}, "url"),
        ({**GOOD, "event_types": []}, "event_types"),
        ({**GOOD, "event_types": ["payment_order.exploded"]}, "event_types"),
        ({**GOOD, "event_types": ["refund.failed", "refund.failed"]}, "event_types"),
        ({**GOOD, "description": "a\u0007b"}, "description"),
        ({**GOOD, "description": "x" * 201}, "description"),
        ({**GOOD, "secret": "mine"}, "secret"),
        ({"event_types": ["refund.failed"]}, "url"),
    ],
)
def test_a_bad_endpoint_is_a_422_naming_the_field_and_writes_nothing(
    client: Client, services: Services, body: Any, field: str
) -> None:
    before = endpoint_count(services)
    response = create(client, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in str(response.json()["errors"]), response.json()
    assert endpoint_count(services) == before


def test_a_create_needs_an_idempotency_key_and_a_retry_is_the_same_endpoint(
    client: Client, services: Services
) -> None:
    assert client.post("/webhook-endpoints", json=GOOD).status_code == 400
    key = uuid.uuid4().hex
    first = create(client, GOOD, key)
    assert first.status_code == 201, first.text
    again = create(client, GOOD, key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = create(client, {**GOOD, "url": "https://other.example/"}, key)
    assert other.status_code == 422  # the same key with another body
    endpoint_id = first.json()["endpoint_id"]
    assert first.headers["location"] == f"/webhook-endpoints/{endpoint_id}"
    assert "whsec_" not in first.text  # the secret is read at secret_url, never stored
    listed = client.get("/webhook-endpoints").json()["items"]
    assert [e["endpoint_id"] for e in listed].count(endpoint_id) == 1


def test_unknown_ids_are_404_and_bad_parameters_are_422(client: Client) -> None:
    for path in (
        "/webhook-endpoints/we_nothing",
        "/webhook-endpoints/we_nothing/secret",
        "/webhook-endpoints/we_nothing/deliveries",
        "/webhook-deliveries/whd_nothing",
    ):
        assert client.get(path).status_code == 404, path
    for path in (
        "/webhook-endpoints/we_nothing/disable",
        "/webhook-endpoints/we_nothing/rotate-secret",
        "/webhook-deliveries/whd_nothing/redeliver",
    ):
        assert client.post(path).status_code == 404, path
    endpoint_id = create(client, GOOD).json()["endpoint_id"]
    for query in ({"status": "lost"}, {"limit": "0"}, {"cursor": "x"}):
        answer = client.get(f"/webhook-endpoints/{endpoint_id}/deliveries", params=query)
        assert answer.status_code == 422, (query, answer.text)
    for overlap in ("8d", "1y", "-1h"):
        answer = client.post(
            f"/webhook-endpoints/{endpoint_id}/rotate-secret", json={"overlap": overlap}
        )
        assert answer.status_code == 422, (overlap, answer.text)
    blank = client.post(f"/webhook-endpoints/{endpoint_id}/disable", json={"reason": " "})
    assert blank.status_code == 422


def test_roles(services: Services, client: Client) -> None:
    endpoint_id = create(client, GOOD).json()["endpoint_id"]
    path = f"/webhook-endpoints/{endpoint_id}"
    for role, reads, writes in [
        ("operator", 200, 403),
        ("finance", 403, 403),
        ("admin", 200, 201),
    ]:
        headers = bearer(services, role)
        assert client.get(path, headers=headers).status_code == reads, role
        assert client.get(f"{path}/secret", headers=headers).status_code == (
            200 if role == "admin" else 403
        )
        made = client.post(
            "/webhook-endpoints",
            json=GOOD,
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert made.status_code == writes, role
    seller = bearer(services, "seller", seller="seller_a")
    assert client.get(path, headers=seller).status_code == 404, "every seller's: not its own"
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_seller_key_has_endpoints_of_its_own_seller_alone(
    services: Services, client: Client
) -> None:
    own = bearer(services, "seller", seller="seller_e")
    other = bearer(services, "seller", seller="seller_f")
    made = create(client, GOOD, key=uuid.uuid4().hex)  # the merchant's, of every seller
    theirs = client.post(
        "/webhook-endpoints", json=GOOD, headers={**own, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["seller_account"] == "seller_e", "a seller key's: its own seller's"
    endpoint_id = theirs.json()["endpoint_id"]
    named = {**GOOD, "seller_account": "seller_e"}
    again = client.post(  # the merchant may make one for a seller too
        "/webhook-endpoints", json=named, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert (again.status_code, again.json()["seller_account"]) == (201, "seller_e")
    for_another = client.post(
        "/webhook-endpoints",
        json={**GOOD, "seller_account": "seller_f"},
        headers={**own, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert for_another.status_code == 403, for_another.text
    checkout = client.post(
        "/webhook-endpoints",
        json={"url": GOOD["url"], "event_types": ["checkout.completed"]},
        headers={**own, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert checkout.status_code == 422, checkout.text
    assert checkout.json()["errors"][0]["field"] == "event_types"

    listed = client.get("/webhook-endpoints", headers=own).json()["items"]
    assert {e["endpoint_id"] for e in listed} == {endpoint_id, again.json()["endpoint_id"]}
    assert client.get("/webhook-endpoints", headers=other).json()["items"] == []
    everyone = {e["endpoint_id"] for e in client.get("/webhook-endpoints").json()["items"]}
    assert {endpoint_id, made.json()["endpoint_id"]} <= everyone, "the merchant sees all"
    path = f"/webhook-endpoints/{endpoint_id}"
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/secret", None),
        ("GET", "/deliveries", None),
        ("POST", "/rotate-secret", {"overlap": "1h"}),
        ("POST", "/ping", None),
        ("POST", "/recover", {"since": "2026-01-01T00:00:00Z"}),
        ("POST", "/disable", {"reason": "moved"}),
    ]:
        refused = client.request(method, path + suffix, json=body, headers=other)
        assert refused.status_code == 404, (suffix, refused.text)
        answer = client.request(method, path + suffix, json=body, headers=own)
        assert answer.status_code in (200, 202), (suffix, answer.text)
    assert client.get(path, headers=own).json()["status"] == "disabled"
    assert (
        client.get(f"/webhook-endpoints/{made.json()['endpoint_id']}", headers=own).status_code
        == 404
    )
    assert client.get("/webhook-deliveries/whd_nope", headers=own).status_code == 404


def test_without_an_audit_key_endpoints_cannot_be_made(admin_database_url: str) -> None:
    with (
        services_on_new_database(admin_database_url, **NO_RATE_LIMITS) as keyless,
        api_client(keyless, role="merchant") as client,
    ):
        refused = create(client, GOOD)
        assert refused.status_code == 409, refused.text
        assert "PAYMENTS_AUDIT_KEY" in refused.json()["detail"]
        assert keyless.webhooks.endpoints() == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254", "::1"])
def test_in_production_a_host_with_an_address_that_is_not_public_is_refused(host: str) -> None:
    with pytest.raises(NotPublic, match="not a public address"):
        public_address(host, 443)
    with pytest.raises(NotPublic, match="cannot resolve"):
        public_address("no-such-host.invalid", 443)


def test_metrics_show_what_waits_and_what_failed(services: Services, client: Client) -> None:
    with api_client(services, role="operator") as operator:
        text = operator.get("/metrics").text
    assert 'payments_webhook_deliveries{status="pending"}' in text
    assert 'payments_webhook_deliveries{status="failed"}' in text
    assert "payments_webhook_oldest_pending_seconds" in text


def test_old_deliveries_are_purged_but_never_one_that_still_waits(services: Services) -> None:
    rows = [
        ("whd_old_delivered", "delivered", 40),
        ("whd_old_failed", "failed", 40),
        ("whd_old_pending", "pending", 40),
        ("whd_new_delivered", "delivered", 2),
        ("whd_old_redelivered", "delivered", 40),
    ]
    with services.pool.connection() as conn:
        for position, (delivery_id, status, days) in enumerate(rows, start=1):
            conn.execute(
                "INSERT INTO webhook_deliveries (delivery_id, endpoint_id, event_id, event_type,"
                " position, body, status, next_attempt_at, created_at) VALUES (%s, 'we_x',"
                " %s, 'refund.failed', %s, '{}', %s, now(), now() - make_interval(days => %s))",
                (delivery_id, f"evt_{delivery_id}", position, status, days),
            )
    with services.pool.connection() as conn:
        conn.execute(
            "UPDATE webhook_deliveries SET last_attempt_at = now() - interval '1 day' "
            "WHERE delivery_id = 'whd_old_redelivered'"
        )
    assert services.webhooks.deliveries.purge(timedelta(days=30), chunk=1) == 2
    left = {r[0] for r in fetch_all(services.pool, "SELECT delivery_id FROM webhook_deliveries")}
    assert {"whd_old_pending", "whd_new_delivered", "whd_old_redelivered"} <= left
    assert not {"whd_old_delivered", "whd_old_failed"} & left


def test_a_key_whose_answer_expired_finds_its_endpoint_or_a_conflict(
    services: Services, client: Client
) -> None:
    key = uuid.uuid4().hex
    made = create(client, GOOD, key).json()
    with services.pool.connection() as conn:  # as the purge does after the keys' TTL
        conn.execute("DELETE FROM idempotency_keys")
    again = create(client, GOOD, key)
    assert again.status_code == 200, again.text
    assert again.json()["endpoint_id"] == made["endpoint_id"]
    with services.pool.connection() as conn:
        conn.execute("DELETE FROM idempotency_keys")
    other = create(client, {**GOOD, "url": "https://elsewhere.example/"}, key)
    assert other.status_code == 409, other.text
    assert other.json()["errors"][0]["field"] == "header.Idempotency-Key"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"since": "2026-12-06T00:00:00"},  # no offset
        {"since": "yesterday"},
        {"since": 0},  # a number, not an instant
        {"since": "2026-13-01T00:00:00Z"},
        {"since": "2026-12-06T00:00:00Z", "until": "2026-12-07T00:00:00Z"},
    ],
)
def test_a_bad_recovery_is_a_422_naming_since_and_changes_nothing(
    client: Client, services: Services, body: Any
) -> None:
    endpoint_id = create(client, GOOD).json()["endpoint_id"]
    response = client.post(f"/webhook-endpoints/{endpoint_id}/recover", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    named = "until" if "until" in body else "since"
    assert named in str(response.json()["errors"]), response.json()


def test_a_recovery_needs_an_endpoint_that_is_there_and_enabled_and_a_role_that_may(
    services: Services, client: Client
) -> None:
    since = {"since": "2026-01-01T00:00:00+01:00"}
    assert client.post("/webhook-endpoints/we_nothing/recover", json=since).status_code == 404
    endpoint_id = create(client, GOOD).json()["endpoint_id"]
    path = f"/webhook-endpoints/{endpoint_id}/recover"
    for role, answer in [("operator", 200), ("finance", 403), ("admin", 200)]:
        assert client.post(path, json=since, headers=bearer(services, role)).status_code == (
            answer
        ), role
    seller = bearer(services, "seller", seller="seller_a")
    assert client.post(path, json=since, headers=seller).status_code == 404  # not its own
    answered = client.post(path, json=since)
    assert answered.status_code == 200, answered.text
    assert answered.json() == {
        "endpoint_id": endpoint_id,
        "since": "2026-01-01T00:00:00+01:00",
        "redelivered": 0,
        "deliveries_url": f"/webhook-endpoints/{endpoint_id}/deliveries?status=pending",
    }
    to_come = client.post(path, json={"since": "2999-01-01T00:00:00Z"})
    assert (to_come.status_code, to_come.json()["redelivered"]) == (200, 0)
    assert client.post(f"/webhook-endpoints/{endpoint_id}/disable").status_code == 200
    refused = client.post(path, json=since)
    assert refused.status_code == 409, refused.text


def test_an_endpoint_is_moved_or_described_anew_and_a_bad_change_writes_nothing(
    services: Services, client: Client
) -> None:
    made = create(client, {**GOOD, "description": "shop"}, key=uuid.uuid4().hex).json()
    path = f"/webhook-endpoints/{made['endpoint_id']}"
    moved = client.patch(path, json={"url": "https://moved.example/hooks"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["url"], moved.json()["description"]) == (
        "https://moved.example/hooks",
        "shop",
    )
    assert client.patch(path, json={"description": "moved shop"}).json()["description"] == (
        "moved shop"
    )
    listed = {e["endpoint_id"]: e for e in client.get("/webhook-endpoints").json()["items"]}
    assert listed[made["endpoint_id"]]["url"] == "https://moved.example/hooks", "the view too"
    events = services.application.events.get(services.webhooks.commands.get(made["endpoint_id"]).id)
    updates = [e for e in events if type(e).__name__ == "Updated"]
    assert len(updates) == 2
    assert client.patch(path, json={}).status_code == 200, "nothing to change"
    assert len(list(services.application.events.get(updates[0].originator_id))) == 3
    retyped = client.patch(path, json={"event_types": ["payout.paid", "dispute.opened"]})
    assert retyped.status_code == 200, retyped.text
    assert retyped.json()["event_types"] == ["dispute.opened", "payout.paid"]
    assert (retyped.json()["url"], retyped.json()["description"]) == (
        "https://moved.example/hooks",
        "moved shop",
    )
    assert client.patch(path, json={"event_types": ["payout.paid", "dispute.opened"]}).json() == (
        retyped.json()
    )
    events = list(services.application.events.get(updates[0].originator_id))
    assert [type(e).__name__ for e in events][-1:] == ["TypesChanged"]
    assert len(events) == 4, "the same types again change nothing"

    for body, field in [
        ({"url": "ftp://x.example/"}, "url"),
        ({"url": ""}, "url"),
        ({"description": "a\nb"}, "description"),
        ({"event_types": ["payment.nope"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["refund.failed", "refund.failed"]}, "event_types"),
        ({"event_types": "refund.failed"}, "event_types"),
        ({"url": 5}, "url"),
    ]:
        refused = client.patch(path, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert field in str(refused.json()["errors"]), refused.text
    assert client.get(path).json()["url"] == "https://moved.example/hooks"
    assert client.get(path).json()["event_types"] == ["dispute.opened", "payout.paid"]
    assert client.patch("/webhook-endpoints/we_nothing", json={}).status_code == 404
    other_seller = bearer(services, "seller", seller="seller_z")
    assert client.patch(path, json={}, headers=other_seller).status_code == 404
    assert client.patch(path, json={}, headers=bearer(services, "operator")).status_code == 403
    client.post(f"{path}/disable", json={"reason": "gone"})
    assert client.patch(path, json={"description": "late"}).status_code == 409
