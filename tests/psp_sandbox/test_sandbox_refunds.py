from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from payments.psp.signing import verify_signature
from tests.psp_sandbox.conftest import (
    WEBHOOK_SECRET,
    ChargeMaker,
    SandboxProcess,
    WebhookReceiver,
    post_refund,
    table_counts,
)

REFUND_FIELDS = {
    "id", "object", "charge", "amount", "currency", "status", "reference", "reason",
    "failure_code", "created",
}  # fmt: skip


def test_a_refund_of_a_succeeded_charge_succeeds_with_a_signed_webhook(
    client: httpx.Client, make_charge: ChargeMaker, webhook_receiver: WebhookReceiver
) -> None:
    charge = make_charge(amount=1000)
    answer = post_refund(client, "rf-key", charge["id"], 400, reason="requested_by_customer")
    assert answer.status_code == 201
    refund = answer.json()
    assert set(refund) == REFUND_FIELDS
    assert refund["id"].startswith("re_")
    assert refund["created"].endswith("Z")
    expected = {"object": "refund", "charge": charge["id"], "amount": 400, "currency": "USD"}
    assert {key: refund[key] for key in expected} == expected
    assert (refund["status"], refund["reference"], refund["failure_code"]) == (
        "succeeded",
        "rf_1",
        None,
    )
    assert refund["reason"] == "requested_by_customer"
    assert client.get(f"/v1/refunds/{refund['id']}").json() == refund
    assert client.get("/v1/refunds", params={"reference": "rf_1"}).json() == {
        "object": "list",
        "data": [refund],
    }
    event = webhook_receiver.wait_for_event("refund.succeeded")
    assert event["data"]["object"] == refund
    (headers, body) = next(
        (h, b) for h, b in webhook_receiver.acknowledged() if b'"refund.succeeded"' in b
    )
    verify_signature(WEBHOOK_SECRET, headers["PSP-Signature"], body, now=int(time.time()))


def test_without_an_amount_what_is_left_is_refunded(
    client: httpx.Client, make_charge: ChargeMaker
) -> None:
    charge = make_charge(amount=1000)
    assert post_refund(client, "k1", charge["id"], 300).json()["amount"] == 300
    rest = post_refund(client, "k2", charge["id"], reference="rf_2")
    assert (rest.status_code, rest.json()["amount"]) == (201, 700)
    nothing_left = post_refund(client, "k3", charge["id"], reference="rf_3")
    assert (nothing_left.status_code, nothing_left.json()["title"]) == (
        422,
        "Charge fully refunded",
    )


def test_a_refund_beyond_what_is_left_is_refused_and_stores_nothing(
    sandbox: SandboxProcess, client: httpx.Client, make_charge: ChargeMaker
) -> None:
    charge = make_charge(amount=1000)
    assert post_refund(client, "k1", charge["id"], 600).status_code == 201
    before = table_counts(sandbox.db_path)
    answer = post_refund(client, "k2", charge["id"], 401, reference="rf_2")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["title"] == "Refund exceeds the charge"
    assert problem["errors"] == [
        {"field": "amount", "message": "400 of the charge's 1000 is left to refund"}
    ]
    assert table_counts(sandbox.db_path) == before
    assert post_refund(client, "k2", charge["id"], 400, reference="rf_2").status_code == 201


def test_the_same_key_replays_and_another_body_with_it_is_refused(
    sandbox: SandboxProcess, client: httpx.Client, make_charge: ChargeMaker
) -> None:
    charge = make_charge(amount=1000)
    first = post_refund(client, "rf-replay", charge["id"], 100)
    again = post_refund(client, "rf-replay", charge["id"], 100)
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    other = post_refund(client, "rf-replay", charge["id"], 200)
    assert (other.status_code, other.json()["title"]) == (422, "Idempotency key reused")
    assert table_counts(sandbox.db_path)["refunds"] == 1


def test_twenty_concurrent_refunds_of_the_last_cent_accept_exactly_one(
    sandbox: SandboxProcess, client: httpx.Client, make_charge: ChargeMaker
) -> None:
    charge = make_charge(amount=1000)
    assert post_refund(client, "first", charge["id"], 999).status_code == 201

    def last_cent(index: int) -> int:
        with httpx.Client(base_url=sandbox.base_url, timeout=10) as own:
            return post_refund(
                own, f"cent-{index}", charge["id"], 1, reference=f"c{index}"
            ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(last_cent, range(20)))
    assert sorted(statuses) == [201] + [422] * 19
    assert table_counts(sandbox.db_path)["refunds"] == 2


def test_refunds_of_the_refund_failing_card_fail_and_give_the_amount_back(
    client: httpx.Client, make_charge: ChargeMaker, webhook_receiver: WebhookReceiver
) -> None:
    charge = make_charge("4000000000005126", amount=1000)
    assert charge["status"] == "succeeded"
    failed = post_refund(client, "f1", charge["id"])
    assert failed.status_code == 201
    assert (failed.json()["status"], failed.json()["failure_code"]) == ("failed", "refund_failed")
    assert webhook_receiver.wait_for_event("refund.failed")["data"]["object"] == failed.json()
    again = post_refund(client, "f2", charge["id"], reference="rf_2")
    assert (again.json()["amount"], again.json()["status"]) == (1000, "failed")


def test_a_refund_of_a_pending_card_charge_is_pending_then_succeeds(
    client: httpx.Client, make_charge: ChargeMaker, webhook_receiver: WebhookReceiver
) -> None:
    charge = make_charge("4000000000003220", amount=1000)
    assert charge["status"] == "pending"
    webhook_receiver.wait_for_event("charge.succeeded")
    pending = post_refund(client, "p1", charge["id"], 1000)
    assert (pending.status_code, pending.json()["status"]) == (202, "pending")
    assert post_refund(client, "p2", charge["id"], 1, reference="rf_2").status_code == 422
    event = webhook_receiver.wait_for_event("refund.succeeded")
    assert (event["data"]["object"]["id"], event["data"]["object"]["status"]) == (
        pending.json()["id"],
        "succeeded",
    )
    assert client.get(f"/v1/refunds/{pending.json()['id']}").json()["status"] == "succeeded"


@pytest.mark.parametrize(
    ("change", "status", "title"),
    [
        ({"charge": "ch_" + "x" * 24}, 422, "Unknown charge"),
        ({"charge": "not-a-charge"}, 422, "Invalid request"),
        ({"amount": 0}, 422, "Invalid request"),
        ({"amount": -5}, 422, "Invalid request"),
        ({"amount": 1.5}, 422, "Invalid request"),
        ({"amount": "5"}, 422, "Invalid request"),
        ({"currency": "USD"}, 422, "Invalid request"),
        ({"reference": ""}, 422, "Invalid request"),
        ({"declined": True}, 422, "Charge not refundable"),
        ({"no_key": True}, 400, "Bad Request"),
    ],
)
def test_a_bad_refund_is_a_clear_problem_and_stores_nothing(
    sandbox: SandboxProcess,
    client: httpx.Client,
    make_charge: ChargeMaker,
    change: dict[str, Any],
    status: int,
    title: str,
) -> None:
    good = make_charge(amount=1000)
    declined = make_charge("4000000000000002", reference="declined")
    body: dict[str, Any] = {"charge": good["id"], "amount": 100, "reference": "rf_bad", **change}
    headers = {"Idempotency-Key": "bad-key"}
    if body.pop("declined", False):
        body["charge"] = declined["id"]
    if body.pop("no_key", False):
        headers = {}
    before = table_counts(sandbox.db_path)
    answer = client.post("/v1/refunds", json=body, headers=headers)
    assert (answer.status_code, answer.json()["title"]) == (status, title)
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert table_counts(sandbox.db_path) == before


def test_an_unknown_refund_or_reference_is_404(client: httpx.Client) -> None:
    assert client.get("/v1/refunds/re_nope").status_code == 404
    assert client.get("/v1/refunds", params={"reference": "nope"}).status_code == 404


def test_refunds_meet_the_request_faults_aimed_at_them(
    sandbox: SandboxProcess, client: httpx.Client, make_charge: ChargeMaker
) -> None:
    charge = make_charge(amount=1000)
    rules = [
        {"kind": "status", "endpoint": "refunds", "status": 503, "count": 1},
        {"kind": "charged_but_500", "endpoint": "refunds", "count": 1},
    ]
    assert client.post("/admin/faults", json=rules).status_code == 201
    assert post_refund(client, "faulty", charge["id"], 100).status_code == 503
    assert table_counts(sandbox.db_path)["refunds"] == 0
    assert post_refund(client, "faulty", charge["id"], 100).status_code == 500
    replay = post_refund(client, "faulty", charge["id"], 100)
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
    assert table_counts(sandbox.db_path)["refunds"] == 1


def test_a_body_over_the_size_limit_is_a_413_problem_and_stores_nothing(
    sandbox: SandboxProcess, client: httpx.Client, make_charge: ChargeMaker
) -> None:
    charge = make_charge(amount=1000)
    before = table_counts(sandbox.db_path)
    huge = post_refund(client, "huge", charge["id"], 100, reason="x" * 70_000)
    assert huge.status_code == 413
    assert huge.headers["content-type"].startswith("application/problem+json")
    assert table_counts(sandbox.db_path) == before
