from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from payments.psp.settlement import iter_settlement_lines
from payments.psp.signing import verify_signature
from tests.psp_sandbox.conftest import WEBHOOK_SECRET, charge_count, post_charge


def test_charged_but_500_then_a_retry_replays_the_one_charge(
    client: httpx.Client, make_token: Callable[..., str]
) -> None:
    token = make_token()
    client.post(
        "/admin/faults", json={"kind": "charged_but_500", "endpoint": "charges", "count": 1}
    )
    assert post_charge(client, token, "key-cb500").status_code == 500
    retry = post_charge(client, token, "key-cb500")
    assert (retry.status_code, retry.headers["Idempotent-Replayed"]) == (201, "true")
    assert charge_count(client, "po_1") == 1


@pytest.mark.parametrize("status", [503, 429])
def test_a_status_fault_answers_n_calls_then_stops(
    client: httpx.Client, make_token: Callable[..., str], status: int
) -> None:
    token = make_token()
    rule = {"kind": "status", "endpoint": "charges", "status": status, "count": 2}
    assert client.post("/admin/faults", json=[rule]).status_code == 201
    statuses = [post_charge(client, token, "key-s").status_code for _ in range(3)]
    assert statuses == [status, status, 201]
    assert charge_count(client, "po_1") == 1
    assert client.get("/admin/faults").json()["faults"] == []


def test_a_reset_fault_makes_the_client_see_a_connection_error(
    client: httpx.Client, make_token: Callable[..., str]
) -> None:
    token = make_token()
    client.post("/admin/faults", json={"kind": "reset", "endpoint": "charges", "count": 1})
    with pytest.raises(httpx.TransportError):
        post_charge(client, token, "key-reset")
    assert charge_count(client, "po_1") == 0
    assert post_charge(client, token, "key-reset").status_code == 201


def test_latency_and_timeout_faults_slow_the_answer(
    client: httpx.Client, make_token: Callable[..., str]
) -> None:
    token = make_token()
    client.post("/admin/faults", json={"kind": "latency", "latency_ms": 300, "count": 1})
    started = time.monotonic()
    assert post_charge(client, token, "key-l").status_code == 201
    assert time.monotonic() - started >= 0.3
    client.post("/admin/faults", json={"kind": "timeout", "count": 1})
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/v1/charges",
            json={"amount": 1, "currency": "USD", "token": token, "reference": "t"},
            headers={"Idempotency-Key": "key-t"},
            timeout=0.5,
        )


def test_an_unknown_fault_kind_is_refused(client: httpx.Client) -> None:
    answer = client.post("/admin/faults", json={"kind": "meteor"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "kind"


def test_webhooks_are_signed_and_retried_until_acknowledged(
    client: httpx.Client, make_token: Callable[..., str], webhook_receiver: Any
) -> None:
    webhook_receiver.failures_before_success = 2
    post_charge(client, make_token(), "key-w")
    ((headers, body),) = webhook_receiver.wait_for(1)
    assert len(webhook_receiver.received) == 3
    verify_signature(WEBHOOK_SECRET, headers["PSP-Signature"], body, now=int(time.time()))
    event = json.loads(body)
    assert event["id"].startswith("evt_")
    assert event["type"] == "charge.succeeded"
    assert event["data"]["object"]["status"] == "succeeded"
    listed = client.get("/v1/events").json()["data"][0]
    assert listed["delivered"]
    assert listed["deliveries"][0]["attempts"] == 3


def test_webhooks_can_be_duplicated_and_dropped_on_request(
    client: httpx.Client, make_token: Callable[..., str], webhook_receiver: Any
) -> None:
    token = make_token()
    client.post("/admin/faults", json=[{"kind": "duplicate_webhook", "count": 1}])
    post_charge(client, token, "key-dup", reference="dup")
    deliveries = webhook_receiver.wait_for(2)
    assert json.loads(deliveries[0][1])["id"] == json.loads(deliveries[1][1])["id"]
    client.post("/admin/faults", json=[{"kind": "drop_webhook", "count": 1}])
    post_charge(client, token, "key-drop", reference="drop")
    post_charge(client, token, "key-after", reference="after")
    deliveries = webhook_receiver.wait_for(3)
    time.sleep(0.3)
    references = [json.loads(body)["data"]["object"]["reference"] for _, body in deliveries]
    assert references == ["dup", "dup", "after"]


def test_a_webhook_fault_with_an_endpoint_hits_only_events_about_its_objects(
    client: httpx.Client, make_token: Callable[..., str], webhook_receiver: Any
) -> None:
    token = make_token()
    rule = {"kind": "drop_webhook", "endpoint": "refunds", "count": 1}
    assert client.post("/admin/faults", json=rule).status_code == 201
    post_charge(client, token, "key-kept", reference="kept")
    [(_, body)] = webhook_receiver.wait_for(1)
    assert json.loads(body)["type"].startswith("charge.")
    [left] = client.get("/admin/faults").json()["faults"]
    assert (left["endpoint"], left["remaining"]) == ("refunds", 1), "a charge's event is not hit"


def test_webhooks_can_be_reordered_on_request(
    client: httpx.Client, make_token: Callable[..., str], webhook_receiver: Any
) -> None:
    token = make_token()
    client.post("/admin/faults", json={"kind": "reorder_webhooks", "count": 2})
    post_charge(client, token, "key-a", reference="first")
    post_charge(client, token, "key-b", reference="second")
    deliveries = webhook_receiver.wait_for(2)
    references = [json.loads(body)["data"]["object"]["reference"] for _, body in deliveries]
    assert references == ["second", "first"]


def test_state_and_undelivered_webhooks_survive_a_restart(
    sandbox: Any, make_token: Callable[..., str], webhook_receiver: Any
) -> None:
    with httpx.Client(base_url=sandbox.base_url) as client:
        token = make_token()
        client.post("/admin/faults", json={"kind": "delay_webhook", "latency_ms": 1500, "count": 1})
        first = post_charge(client, token, "key-restart")
    sandbox.stop()
    assert webhook_receiver.received == []
    sandbox.start()
    with httpx.Client(base_url=sandbox.base_url) as client:
        assert client.get(f"/v1/charges/{first.json()['id']}").json()["status"] == "succeeded"
        replay = post_charge(client, token, "key-restart")
        assert replay.content == first.content
        assert charge_count(client, "po_1") == 1
    webhook_receiver.wait_for(1, timeout=5)


def test_the_settlement_file_parses_balances_and_is_deterministic(
    client: httpx.Client, make_token: Callable[..., str]
) -> None:
    token = make_token()
    for index in range(3):
        post_charge(client, token, f"key-s{index}", reference=f"order_{index}")
    post_charge(client, make_token("4000000000000002"), "key-declined", reference="declined")
    day = datetime.now(UTC).date().isoformat()
    assert client.get("/v1/settlements").json()["data"][0]["date"] == day
    first = client.get(f"/v1/settlements/{day}.csv")
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/csv; charset=utf-8"  # one charset, not two
    assert client.get(f"/v1/settlements/{day}.csv").content == first.content
    lines = list(iter_settlement_lines(io.StringIO(first.text), currency="USD", exponent=2))
    settled = [line for line in lines if line.type == "Settled"]
    assert sorted(line.merchant_reference for line in settled) == [
        "order_0",
        "order_1",
        "order_2",
    ]
    for line in settled:
        # 2.9 % of 10.00 = 0.29, plus 0.30
        assert (line.gross_credit_minor, line.commission_minor, line.net_credit_minor) == (
            1000,
            59,
            941,
        )
    (payout_line,) = [line for line in lines if line.type == "MerchantPayout"]
    assert payout_line.net_debit_minor == sum(line.net_credit_minor for line in settled)
    assert client.get("/v1/settlements/not-a-day.csv").status_code == 404
