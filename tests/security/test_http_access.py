"""Every route behind a key with a role: 401, 403, 404 for another seller, 429 (DESIGN §11)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from payments.api.app import create_app
from payments.psp.signing import sign_payload
from payments.runtime.services import Services
from tests.conftest import NO_RATE_LIMITS, bearer, services_on
from tests.integration.helpers import checkout_body, event_count, new_key

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture(scope="module")
def services(database_url: str) -> Iterator[Services]:
    secret = "whsec_" + "x" * 40
    with services_on(database_url, PAYMENTS_WEBHOOK_SECRET=secret, **NO_RATE_LIMITS) as built:
        yield built


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[Client]:
    with TestClient(app=create_app(services), raise_server_exceptions=False) as test_client:
        yield test_client


def test_no_key_a_malformed_one_or_an_unknown_one_is_401_with_www_authenticate(
    client: Client, services: Services
) -> None:
    unknown = "pk_test_" + "a" * 12 + "_" + "B" * 43
    live = bearer(services, "admin")["Authorization"].replace("pk_test_", "pk_live_")
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "},
                    {"Authorization": f"Bearer {unknown}"}, {"Authorization": live},
                    {"Authorization": "Bearer pk_test_short"}):  # fmt: skip
        answer = client.get("/ledger/trial-balance", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["www-authenticate"].startswith('Bearer realm="payments"')


def test_a_revoked_key_is_401_at_once(client: Client, services: Services) -> None:
    headers = bearer(services, "finance")
    assert client.get("/ledger/trial-balance", headers=headers).status_code == 200
    key_id = headers["Authorization"].split("_")[2]
    admin = bearer(services, "admin")
    revoked = client.post(f"/keys/{key_id}/revoke", headers=admin, json={"reason": "leaked"})
    assert revoked.status_code == 200, revoked.text
    assert client.get("/ledger/trial-balance", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("merchant", "GET", "/ledger/trial-balance", False),
        ("merchant", "GET", "/dead-letters", False),
        ("merchant", "GET", "/keys", False),
        ("merchant", "GET", "/payments", True),
        ("operator", "GET", "/dead-letters", True),
        ("operator", "GET", "/ledger/trial-balance", False),
        ("operator", "POST", "/reconciliations", False),
        ("finance", "GET", "/ledger/trial-balance", True),
        ("finance", "GET", "/audit/actions", True),
        ("finance", "POST", "/payments", False),
        ("finance", "GET", "/keys", False),
        ("seller", "GET", "/payments", False),
        ("seller", "GET", "/ledger/trial-balance", False),
        ("admin", "GET", "/keys", True),
        ("admin", "GET", "/dead-letters", True),
    ],
)
def test_a_role_that_may_not_call_a_route_gets_403(
    client: Client, services: Services, role: str, method: str, path: str, allowed: bool
) -> None:
    headers = bearer(services, role, "s_scope" if role == "seller" else None)
    answer = client.request(method, path, headers=headers)
    if allowed:
        assert answer.status_code not in (401, 403), answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert answer.json()["type"].endswith("/forbidden")


def test_a_seller_key_reads_its_own_wallet_and_account_and_nothing_of_another_seller(
    client: Client, services: Services
) -> None:
    mine = bearer(services, "seller", "seller_mine")
    finance = bearer(services, "finance")
    for path in ("/wallets/seller_other", "/ledger/accounts/seller:seller_other",
                 "/ledger/accounts/psp_receivable", "/ledger/accounts/seller:seller_other:pending"):  # fmt: skip
        answer = client.get(path, headers=mine)
        assert answer.status_code == 404, (path, answer.text)
        assert "seller_mine" not in answer.text
    # Its own (no wallet yet: also 404, the same answer whether the other exists or not).
    assert client.get("/wallets/seller_mine", headers=mine).status_code == 404
    assert client.get("/wallets/seller_other", headers=finance).status_code == 404


def test_idempotency_keys_are_each_callers_own(client: Client, services: Services) -> None:
    first, second = bearer(services, "merchant"), bearer(services, "merchant")
    key = new_key()
    body = checkout_body()
    created = client.post("/payments", json=body, headers={**key, **first})
    assert created.status_code == 201
    replayed = client.post("/payments", json=body, headers={**key, **first})
    assert replayed.headers.get("idempotent-replayed") == "true"
    # The same Idempotency-Key from another API key is that caller's own: no replay of the
    # first caller's answer (the checkout exists: the domain answers 200 afresh) ...
    same_body = client.post("/payments", json=body, headers={**key, **second})
    assert same_body.status_code == 200, same_body.text
    assert "idempotent-replayed" not in same_body.headers
    # ... and another body under it is not refused as "the same key with another body" of the
    # first caller, which would reveal that caller's key: a third caller places it.
    third = bearer(services, "merchant")
    theirs = client.post("/payments", json=checkout_body(), headers={**key, **third})
    assert theirs.status_code == 201, theirs.text
    assert "idempotent-replayed" not in theirs.headers


def test_health_schema_and_signed_webhooks_need_no_key_metrics_does(client: Client) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/schema/openapi.json").status_code == 200
    assert client.get("/metrics").status_code == 401
    body = json.dumps({"id": "evt_1", "type": "charge.succeeded", "data": {}}).encode()
    # The constant v0.1 published: refused, like any other wrong secret.
    header = sign_payload("whsec_sandbox_development_only", body, int(time.time()))
    answer = client.post("/webhooks/psp", content=body, headers={"PSP-Signature": header})
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/webhook-signature")


def test_the_anonymous_money_moves_of_the_issue_end_in_401_and_move_nothing(
    client: Client, services: Services
) -> None:
    before = event_count(services.pool)
    line = "Company Account,Merchant Account,Psp Reference\nX,Y,Z\n"
    upload = client.post(
        "/reconciliations", content=line, headers={**new_key(), "Content-Type": "text/csv"}
    )
    payout = client.post("/payouts", json={"seller_account": "seller_a"}, headers=new_key())
    replay = client.post("/dead-letters/replay-all")
    for answer in (upload, payout, replay):
        assert answer.status_code == 401, answer.text
    assert event_count(services.pool) == before


def test_every_operation_declares_its_security(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["BearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            security = operation.get("security")
            if path in ("/health", "/webhooks/psp"):
                assert not security, path  # no global requirement: absent means open
                assert "401" not in operation["responses"] or path == "/webhooks/psp"
            else:
                assert security == [{"BearerAuth": []}], (method, path)
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)


def test_a_burst_of_bad_keys_from_one_address_is_slowed_down(database_url: str) -> None:
    with (
        services_on(database_url, PAYMENTS_RATE_LIMIT_FAILED_AUTH="5/minute") as services,
        TestClient(app=create_app(services), raise_server_exceptions=False) as client,
    ):
        good = bearer(services, "finance")
        statuses = [
            client.get(
                "/ledger/trial-balance", headers={"Authorization": f"Bearer x{i}"}
            ).status_code
            for i in range(8)
        ]
        assert statuses[:5] == [401] * 5
        assert statuses[5:] == [429] * 3
        limited = client.get("/ledger/trial-balance", headers=good)
        assert limited.status_code == 429  # the address is slowed down, whatever it sends
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["content-type"].startswith("application/problem+json")


def test_a_key_past_its_rate_limit_gets_429_with_retry_after(database_url: str) -> None:
    with (
        services_on(database_url, PAYMENTS_RATE_LIMIT_PER_KEY="3/minute") as services,
        TestClient(app=create_app(services), raise_server_exceptions=False) as client,
    ):
        first, second = bearer(services, "finance"), bearer(services, "finance")
        statuses = [
            client.get("/ledger/trial-balance", headers=first).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        assert client.get("/ledger/trial-balance", headers=second).status_code == 200


def test_operator_commands_record_the_key_that_did_them(client: Client, services: Services) -> None:
    operator = bearer(services, "operator")
    operator_id = operator["Authorization"].split("_")[2]
    admin = bearer(services, "admin")
    created = client.post(
        "/keys", json={"role": "seller", "seller_account": "s_audit"}, headers=admin
    )
    assert created.status_code == 201, created.text
    missing = client.post(f"/dead-letters/{uuid.uuid4().hex}/replay", headers=operator)
    assert missing.status_code == 404
    actions = client.get("/audit/actions", headers=bearer(services, "finance")).json()["actions"]
    admin_id = admin["Authorization"].split("_")[2]
    assert [a["action"] for a in actions if a["actor"] == admin_id] == ["api_key.created"]
    assert not [a for a in actions if a["actor"] == operator_id]  # nothing happened: nothing listed
    finance = bearer(services, "finance")
    mine = {"actor": admin_id, "action": "api_key.created"}
    found = client.get("/audit/actions", params=mine, headers=finance).json()["actions"]
    assert [(a["actor"], a["action"]) for a in found] == [(admin_id, "api_key.created")]
    other = {"actor": admin_id, "action": "seller.suspended"}
    assert client.get("/audit/actions", params=other, headers=finance).json()["actions"] == []
    bad = client.get("/audit/actions", params={"action": "DROP TABLE"}, headers=finance)
    assert bad.status_code == 422
