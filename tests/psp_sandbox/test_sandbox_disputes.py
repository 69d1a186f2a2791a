from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.psp_sandbox.conftest import (
    ChargeMaker,
    SandboxProcess,
    SandboxStarter,
    WebhookReceiver,
    post_refund,
    table_counts,
)

DISPUTE_FIELDS = {
    "id", "object", "charge", "charge_reference", "amount", "currency", "fee", "reason",
    "status", "evidence_due_by", "created",
}  # fmt: skip


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _open(client: httpx.Client, charge_id: str, **extra: Any) -> httpx.Response:
    return client.post("/admin/disputes", json={"charge": charge_id, **extra})


def _evidence(client: httpx.Client, dispute_id: str, text: str) -> httpx.Response:
    return client.post(f"/v1/disputes/{dispute_id}/evidence", json={"text": text})


def test_the_dispute_card_succeeds_then_a_dispute_opens_with_a_webhook(
    client: httpx.Client, make_charge: ChargeMaker, webhook_receiver: WebhookReceiver
) -> None:
    charge = make_charge("4000000000000259", amount=1000, reference="order_259")
    assert charge["status"] == "succeeded"
    dispute = webhook_receiver.wait_for_event("dispute.created")["data"]["object"]
    assert set(dispute) == DISPUTE_FIELDS
    assert dispute["id"].startswith("dp_")
    assert (dispute["object"], dispute["charge"], dispute["charge_reference"]) == (
        "dispute",
        charge["id"],
        "order_259",
    )
    assert (dispute["amount"], dispute["currency"], dispute["fee"]) == (1000, "USD", 1500)
    assert (dispute["reason"], dispute["status"]) == ("fraudulent", "needs_response")
    window = _instant(dispute["evidence_due_by"]) - _instant(dispute["created"])
    assert abs(window - timedelta(days=7)) < timedelta(seconds=1)
    assert client.get(f"/v1/disputes/{dispute['id']}").json() == dispute
    listed = client.get("/v1/disputes", params={"charge": charge["id"]}).json()
    assert listed == {"object": "list", "data": [dispute]}


def test_an_admin_opens_one_dispute_on_a_succeeded_charge(
    sandbox: SandboxProcess, client: httpx.Client, make_charge: ChargeMaker
) -> None:
    charge = make_charge(amount=1000)
    assert post_refund(client, "rf", charge["id"], 300, reference="rf").status_code == 201
    opened = _open(client, charge["id"], reason="product_not_received")
    assert opened.status_code == 201
    assert (opened.json()["amount"], opened.json()["reason"]) == (700, "product_not_received")
    before = table_counts(sandbox.db_path)
    again = _open(client, charge["id"])
    assert (again.status_code, again.json()["title"]) == (409, "Charge already disputed")
    refund = post_refund(client, "rf2", charge["id"], reference="rf2")
    assert (refund.status_code, refund.json()["title"]) == (422, "Charge disputed")
    assert table_counts(sandbox.db_path) == before


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ({"charge": "ch_" + "z" * 24}, "Unknown charge"),
        ({"charge": "declined"}, "Charge not disputable"),
        ({"charge": "ch_1"}, "Invalid request"),
        ({"charge": "good", "reason": ""}, "Invalid request"),
        ({"charge": "good", "amount": 5}, "Invalid request"),
    ],
)
def test_a_bad_dispute_opening_is_a_422_and_stores_nothing(
    sandbox: SandboxProcess,
    client: httpx.Client,
    make_charge: ChargeMaker,
    body: dict[str, Any],
    title: str,
) -> None:
    ids = {
        "good": make_charge()["id"],
        "declined": make_charge("4000000000000002", reference="declined")["id"],
    }
    body = {**body, "charge": ids.get(body["charge"], body["charge"])}
    before = table_counts(sandbox.db_path)
    answer = client.post("/admin/disputes", json=body)
    assert (answer.status_code, answer.json()["title"]) == (422, title)
    assert table_counts(sandbox.db_path) == before


@pytest.mark.parametrize(
    ("text", "outcome"), [("winning_evidence: receipt", "won"), ("here is losing_evidence", "lost")]
)
def test_evidence_decides_the_dispute_after_a_review(
    client: httpx.Client,
    make_charge: ChargeMaker,
    webhook_receiver: WebhookReceiver,
    text: str,
    outcome: str,
) -> None:
    dispute = _open(client, make_charge()["id"]).json()
    answer = _evidence(client, dispute["id"], text)
    assert (answer.status_code, answer.json()["status"]) == (200, "under_review")
    decided = webhook_receiver.wait_for_event(f"dispute.{outcome}")["data"]["object"]
    assert (decided["id"], decided["status"]) == (dispute["id"], outcome)
    assert client.get(f"/v1/disputes/{dispute['id']}").json()["status"] == outcome
    twice = _evidence(client, dispute["id"], text)
    assert (twice.status_code, twice.json()["title"]) == (409, "Dispute not awaiting evidence")


def test_other_evidence_waits_under_review_until_an_admin_closes_it(
    client: httpx.Client, make_charge: ChargeMaker, webhook_receiver: WebhookReceiver
) -> None:
    dispute = _open(client, make_charge()["id"]).json()
    assert _evidence(client, dispute["id"], "a signed receipt").json()["status"] == "under_review"
    time.sleep(0.6)  # three review delays
    assert client.get(f"/v1/disputes/{dispute['id']}").json()["status"] == "under_review"
    closed = client.post(f"/admin/disputes/{dispute['id']}/close", json={"outcome": "won"})
    assert (closed.status_code, closed.json()["status"]) == (200, "won")
    assert webhook_receiver.wait_for_event("dispute.won")["data"]["object"] == closed.json()
    again = client.post(f"/admin/disputes/{dispute['id']}/close", json={"outcome": "lost"})
    assert (again.status_code, again.json()["title"]) == (409, "Dispute already closed")
    bad = client.post(f"/admin/disputes/{dispute['id']}/close", json={"outcome": "draw"})
    assert bad.status_code == 422


def test_a_won_dispute_reopens_once_as_lost(
    client: httpx.Client, make_charge: ChargeMaker, webhook_receiver: WebhookReceiver
) -> None:
    dispute = _open(client, make_charge()["id"]).json()
    not_won = client.post(f"/admin/disputes/{dispute['id']}/reopen")
    assert (not_won.status_code, not_won.json()["title"]) == (409, "Dispute not reopenable")
    client.post(f"/admin/disputes/{dispute['id']}/close", json={"outcome": "won"})
    reopened = client.post(f"/admin/disputes/{dispute['id']}/reopen")
    assert (reopened.status_code, reopened.json()["status"]) == (200, "lost")
    assert webhook_receiver.wait_for_event("dispute.lost")["data"]["object"] == reopened.json()
    assert client.post(f"/admin/disputes/{dispute['id']}/reopen").status_code == 409


def test_evidence_after_the_deadline_is_refused_and_the_dispute_is_lost(
    start_sandbox: SandboxStarter, webhook_receiver: WebhookReceiver
) -> None:
    sandbox = start_sandbox("--evidence-window", "0.5")
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}
        token = client.post("/v1/tokens", json=card).json()["token"]
        body = {"amount": 500, "currency": "USD", "token": token, "reference": "late"}
        charge = client.post("/v1/charges", json=body, headers={"Idempotency-Key": "late"})
        dispute = _open(client, charge.json()["id"]).json()
        lost = webhook_receiver.wait_for_event("dispute.lost")["data"]["object"]
        assert (lost["id"], lost["status"]) == (dispute["id"], "lost")
        late = _evidence(client, dispute["id"], "winning_evidence")
        assert (late.status_code, late.json()["title"]) == (409, "Evidence too late")
        assert late.headers["content-type"].startswith("application/problem+json")
        assert client.get(f"/v1/disputes/{dispute['id']}").json()["status"] == "lost"


def test_an_unknown_dispute_is_404_everywhere(client: httpx.Client) -> None:
    unknown = "dp_" + "u" * 24
    assert client.get(f"/v1/disputes/{unknown}").status_code == 404
    assert _evidence(client, unknown, "winning_evidence").status_code == 404
    close = client.post(f"/admin/disputes/{unknown}/close", json={"outcome": "won"})
    assert (close.status_code, close.json()["title"]) == (404, "Dispute not found")
    assert client.post(f"/admin/disputes/{unknown}/reopen").status_code == 404
    assert client.get("/v1/disputes", params={"charge": "ch_" + "u" * 24}).status_code == 404
    assert client.get("/v1/disputes", params={"charge": "nope"}).status_code == 400
    empty = _evidence(client, unknown, "")
    assert (empty.status_code, empty.json()["errors"][0]["field"]) == (422, "text")


def test_a_webhook_fault_aimed_at_one_object_hits_only_its_events(
    client: httpx.Client, make_charge: ChargeMaker, webhook_receiver: WebhookReceiver
) -> None:
    kept, dropped = (
        _open(client, make_charge(reference=name)["id"]).json()["id"] for name in ("a", "b")
    )
    rule = {"kind": "drop_webhook", "endpoint": "disputes", "object_id": dropped, "count": 1}
    assert client.post("/admin/faults", json=rule).status_code == 201
    for dispute_id in (kept, dropped):
        closed = client.post(f"/admin/disputes/{dispute_id}/close", json={"outcome": "won"})
        assert closed.status_code == 200
    assert webhook_receiver.wait_for_event("dispute.won")["data"]["object"]["id"] == kept
    time.sleep(0.3)  # the other one's event would have come by now
    won = [
        e["data"]["object"]["id"] for e in webhook_receiver.events() if e["type"] == "dispute.won"
    ]
    assert won == [kept]
    assert client.get("/admin/faults").json()["faults"] == []  # used up by its own object


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"kind": "status", "endpoint": "charges", "object_id": "ch_1"}, "object_id"),
        ({"kind": "latency", "endpoint": "disputes"}, "endpoint"),
    ],
)
def test_object_ids_and_disputes_aim_webhook_faults_only(
    client: httpx.Client, rule: dict[str, Any], field: str
) -> None:
    answer = client.post("/admin/faults", json={**rule, "count": 1})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert client.get("/admin/faults").json()["faults"] == []
