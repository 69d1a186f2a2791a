from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.psp_sandbox.conftest import SandboxProcess, WebhookReceiver, table_counts
from tests.waiting import wait_until

IBAN = "DE89370400440532013000"
ROUTING, ACCOUNT_NUMBER = "110000000", "000123456789"
ACCOUNT_FIELDS = {
    *("id", "object", "reference", "name", "country", "status", "bank_token", "created"),
    "rejection_reason",
}


def _bank_token(client: httpx.Client, **details: str) -> httpx.Response:
    return client.post("/v1/bank_tokens", json={"holder_name": "Ada Seller", **details})


def _account_updates(receiver: WebhookReceiver) -> list[tuple[str, str]]:
    return [
        (event["data"]["object"]["id"], event["data"]["object"]["status"])
        for event in receiver.events()
        if event["type"] == "account.updated"
    ]


def _account(
    client: httpx.Client, key: str, id_number: str = "123456789", **extra: Any
) -> httpx.Response:
    body = {"reference": "seller_1", "name": "Ada's Shop", "country": "DE", "id_number": id_number}
    return client.post("/v1/accounts", json={**body, **extra}, headers={"Idempotency-Key": key})


def test_bank_details_become_a_token_that_shows_only_the_last_four(
    sandbox: SandboxProcess, client: httpx.Client
) -> None:
    iban = _bank_token(client, iban=IBAN)
    assert iban.status_code == 201
    token = iban.json()
    assert token["id"].startswith("btok_")
    assert token["id"][5:].isalpha()
    assert (token["object"], token["kind"], token["country"], token["last4"]) == (
        "bank_token",
        "iban",
        "DE",
        "3000",
    )
    assert token["holder_name"] == "Ada Seller"
    assert len(token["fingerprint"]) == 64
    assert IBAN not in iban.text
    us = _bank_token(client, account_number=ACCOUNT_NUMBER, routing_number=ROUTING)
    assert (us.status_code, us.json()["kind"], us.json()["last4"]) == (201, "us_account", "6789")
    assert ACCOUNT_NUMBER not in us.text
    again = _bank_token(client, iban=IBAN).json()
    assert (again["fingerprint"], again["id"] != token["id"]) == (token["fingerprint"], True)
    sandbox.stop()
    stored = b"".join(path.read_bytes() for path in sandbox.db_path.parent.glob("sandbox.sqlite3*"))
    for number in (IBAN, ACCOUNT_NUMBER, "370400440532013000"):
        assert number.encode() not in stored
    sandbox.start()


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"iban": "DE00370400440532013000"}, "iban"),
        ({"iban": IBAN, "account_number": ACCOUNT_NUMBER, "routing_number": ROUTING}, "iban"),
        ({}, "account_number"),
        ({"account_number": ACCOUNT_NUMBER}, "routing_number"),
        ({"account_number": ACCOUNT_NUMBER, "routing_number": "110000001"}, "routing_number"),
        ({"iban": IBAN.lower()}, "iban"),
        ({"account_number": "12ab5678", "routing_number": ROUTING}, "account_number"),
        ({"iban": IBAN, "holder_name": ""}, "holder_name"),
    ],
)
def test_bad_bank_details_are_a_422_naming_the_field_and_store_nothing(
    sandbox: SandboxProcess, client: httpx.Client, details: dict[str, str], field: str
) -> None:
    before = table_counts(sandbox.db_path)
    answer = _bank_token(client, **details)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    for number in (IBAN, IBAN.lower(), ACCOUNT_NUMBER, "DE00370400440532013000"):
        assert number not in answer.text
    assert table_counts(sandbox.db_path) == before


def test_kyc_follows_the_id_number_and_an_admin_decides_the_rest(
    sandbox: SandboxProcess, client: httpx.Client, webhook_receiver: WebhookReceiver
) -> None:
    verified = _account(client, "k1", "000000000").json()
    assert set(verified) == ACCOUNT_FIELDS
    assert verified["id"].startswith("acct_")
    assert (verified["object"], verified["status"], verified["country"]) == (
        "account",
        "verified",
        "DE",
    )
    assert _account(client, "k2", "111111111").json()["status"] == "rejected"
    pending = _account(client, "k3", "123456789", reference="seller_2").json()
    assert (pending["status"], pending["bank_token"]) == ("pending", None)
    assert client.get(f"/v1/accounts/{pending['id']}").json() == pending
    assert client.get("/v1/accounts", params={"reference": "seller_2"}).json() == {
        "object": "list",
        "data": [pending],
    }
    decided = client.post(f"/admin/accounts/{pending['id']}/verify")
    assert (decided.status_code, decided.json()["status"]) == (200, "verified")
    event = webhook_receiver.wait_for_event("account.updated")
    assert event["data"]["object"] == decided.json()
    again = client.post(f"/admin/accounts/{pending['id']}/reject")
    assert (again.status_code, again.json()["title"]) == (409, "Account already decided")
    other = _account(client, "k4", "987654321", reference="seller_3").json()
    rejected = client.post(f"/admin/accounts/{other['id']}/reject").json()
    assert rejected["status"] == "rejected"
    wait_until(lambda: len(_account_updates(webhook_receiver)) == 2)
    time.sleep(0.2)  # creations send no account.updated: only the two decisions arrive
    assert _account_updates(webhook_receiver) == [
        (pending["id"], "verified"),
        (other["id"], "rejected"),
    ]
    sandbox.stop()
    stored = b"".join(path.read_bytes() for path in sandbox.db_path.parent.glob("sandbox.sqlite3*"))
    assert b"123456789" not in stored
    assert b"987654321" not in stored
    sandbox.start()


def test_an_account_may_name_an_existing_bank_token_only(
    sandbox: SandboxProcess, client: httpx.Client
) -> None:
    token = _bank_token(client, iban=IBAN).json()["id"]
    with_token = _account(client, "k1", "000000000", bank_token=token)
    assert (with_token.status_code, with_token.json()["bank_token"]) == (201, token)
    before = table_counts(sandbox.db_path)
    unknown = _account(client, "k2", bank_token="btok_" + "q" * 24)
    assert (unknown.status_code, unknown.json()["title"]) == (422, "Unknown bank token")
    assert unknown.json()["errors"][0]["field"] == "bank_token"
    malformed = _account(client, "k3", bank_token="btok_123")
    assert (malformed.status_code, malformed.json()["errors"][0]["field"]) == (422, "bank_token")
    assert table_counts(sandbox.db_path) == before


def test_account_creation_is_idempotent_by_key(
    sandbox: SandboxProcess, client: httpx.Client
) -> None:
    first = _account(client, "same")
    replay = _account(client, "same")
    assert (replay.content, replay.headers["Idempotent-Replayed"]) == (first.content, "true")
    assert _account(client, "same", name="Other").status_code == 422
    body = {"reference": "s", "name": "n", "country": "DE", "id_number": "1"}
    missing = client.post("/v1/accounts", json=body)
    assert missing.status_code == 400
    assert table_counts(sandbox.db_path)["accounts"] == 1


def test_an_unknown_account_is_404(client: httpx.Client) -> None:
    unknown = "acct_" + "u" * 24
    answer = client.get(f"/v1/accounts/{unknown}")
    assert (answer.status_code, answer.json()["title"]) == (404, "Account not found")
    assert client.post(f"/admin/accounts/{unknown}/verify").status_code == 404
    assert client.post(f"/admin/accounts/{unknown}/reject").status_code == 404
    assert client.get("/v1/accounts", params={"reference": "nobody"}).status_code == 404


def test_a_payout_to_a_bank_token_needs_one_the_sandbox_issued(
    sandbox: SandboxProcess, client: httpx.Client, webhook_receiver: WebhookReceiver
) -> None:
    token = _bank_token(client, account_number=ACCOUNT_NUMBER, routing_number=ROUTING).json()

    def payout(key: str, destination: str) -> httpx.Response:
        body = {"amount": 500, "currency": "USD", "destination": destination, "reference": key}
        return client.post("/v1/payouts", json=body, headers={"Idempotency-Key": key})

    paid = payout("p1", token["id"])
    assert (paid.status_code, paid.json()["destination"]) == (201, token["id"])
    event = webhook_receiver.wait_for_event("payout.paid")
    assert event["data"]["object"]["id"] == paid.json()["id"]
    before = table_counts(sandbox.db_path)
    for destination in ("btok_" + "n" * 24, "btok_123"):
        refused = payout(f"p-{destination}", destination)
        assert (refused.status_code, refused.json()["title"]) == (422, "Unknown bank token")
        assert refused.json()["errors"][0]["field"] == "destination"
    assert table_counts(sandbox.db_path) == before
