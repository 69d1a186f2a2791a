"""Audit over HTTP: ?as_of on orders, accounts, wallets and the trial balance; history;
verifications in the background; bad instants answered 422 naming `as_of`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from litestar.testing import TestClient

from payments.runtime.services import Services
from tests.audit.conftest import Story, tell_story
from tests.conftest import api_client
from tests.projections.conftest import catch_up_all

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def client(services: Services) -> Iterator[Client]:
    with api_client(services) as test_client:
        yield test_client


@pytest.fixture
def story(services: Services) -> Story:
    told = tell_story(services)
    catch_up_all(services)
    return told


def q(instant: datetime) -> dict[str, str]:
    return {"as_of": instant.isoformat()}


def test_an_order_as_of_then_and_without_as_of_as_now(client: Client, story: Story) -> None:
    then = client.get(f"/payments/{story.order_a}", params=q(story.started))
    assert then.status_code == 200, then.text
    assert then.json()["status"] == "EXECUTING"
    assert then.json()["ledger_updated"] is False
    now = client.get(f"/payments/{story.order_a}").json()
    assert (now["status"], now["ledger_updated"], now["wallet_updated"]) == ("SUCCESS", True, True)
    assert client.get(f"/payments/{story.order_a}", params=q(story.paid)).json() == now
    missing = client.get(f"/payments/{story.order_a}", params=q(story.before))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_balances_and_wallets_as_of(client: Client, story: Story) -> None:
    account = client.get("/ledger/accounts/seller:seller_a:pending", params=q(story.paid)).json()
    assert (account["balance"], account["entry_count"]) == ("-25.00", 1)
    assert [e["credit"] for e in account["entries"]] == ["25.00"]
    assert (
        client.get("/ledger/accounts/seller:seller_a:pending", params=q(story.started)).status_code
        == 404
    )
    wallet = client.get("/wallets/seller_a", params=q(story.paid)).json()
    assert (wallet["pending"], wallet["available"], wallet["credit_count"]) == ("25.00", "0.00", 1)
    assert wallet["balance"] == "25.00"
    assert client.get("/wallets/seller_a", params=q(story.placed)).status_code == 404
    trial = client.get("/ledger/trial-balance", params=q(story.paid)).json()
    assert (trial["total"], trial["balanced"], len(trial["accounts"])) == ("0.00", True, 2)
    empty = client.get("/ledger/trial-balance", params=q(story.before)).json()
    assert (empty["accounts"], empty["balanced"]) == ([], True)


BAD_INSTANTS = ("not-a-time", "2025-01-31T12:00:00", "2999-01-01T00:00:00Z", "2025-13-01T00:00:00Z")
AS_OF_PATHS = (
    "/payments/po_x",
    "/ledger/accounts/psp_receivable",
    "/wallets/s",
    "/ledger/trial-balance",
)


def test_unusable_as_of_is_a_422_naming_the_parameter(client: Client) -> None:
    for path in AS_OF_PATHS:
        for bad in BAD_INSTANTS:
            response = client.get(path, params={"as_of": bad})
            assert response.status_code == 422, (path, bad, response.text)
            assert response.json()["errors"][0]["field"] == "as_of"


def test_history_over_http_shows_finance_fields_and_no_card_token(
    client: Client, story: Story
) -> None:
    response = client.get(f"/payments/{story.order_a}/history")
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert [e["event_type"] for e in events][-1] == "PaymentOrder.Succeeded"
    assert events[0]["data"]["amount"] == "25.00"
    assert events[-1]["postings"][0] == {
        "account": "psp_receivable",
        "debit": "25.00",
        "credit": "0.00",
    }
    assert "tok_" not in response.text
    assert client.get("/payments/po_nobody/history").status_code == 404


def test_a_verification_runs_in_the_background_and_reports_per_projection(
    client: Client, story: Story
) -> None:
    assert client.post("/audit/verifications").status_code == 400  # Idempotency-Key needed
    key = {"Idempotency-Key": uuid.uuid4().hex}
    created = client.post("/audit/verifications", headers=key)
    assert created.status_code == 202, created.text
    replayed = client.post("/audit/verifications", headers=key)
    assert replayed.content == created.content
    assert replayed.headers["idempotent-replayed"] == "true"
    url = created.json()["url"]
    deadline = time.monotonic() + 30
    while (body := client.get(url).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert body["state"] == "identical", body
    assert [r["name"] for r in body["results"]] == [
        "order_status",
        "ledger",
        "wallets",
        "api_keys",
        "audit_actions",
        "sellers",
        "payouts",
        "webhook_endpoints",
        "disputes",
        "reconciliation_exceptions",
        "refunds",
        "public_event_ids",
    ]
    assert all(r["rows_differing"] == 0 for r in body["results"])
    assert client.get("/audit/verifications/nope").status_code == 422
    assert client.get(f"/audit/verifications/{uuid.uuid4()}").status_code == 404


def test_verifications_requested_at_once_all_run(client: Client, story: Story) -> None:
    """Each rebuilds every view: the second used to fail on the first's locks."""
    urls = [
        client.post("/audit/verifications", headers={"Idempotency-Key": uuid.uuid4().hex}).json()[
            "url"
        ]
        for _ in range(3)
    ]
    deadline = time.monotonic() + 60
    states = [client.get(url).json() for url in urls]
    while any(body["state"] in ("queued", "running") for body in states):
        assert time.monotonic() < deadline, states
        time.sleep(0.1)
        states = [client.get(url).json() for url in urls]
    assert [body["state"] for body in states] == ["identical"] * 3, states
