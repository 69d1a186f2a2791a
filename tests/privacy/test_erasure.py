"""buyer_info encrypted at rest, and erased for good while everything else keeps working.

The real app, PostgreSQL, the projections, the audit seal and reconciliation: no fakes.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from payments.api.schemas import CheckoutRequest
from payments.domain.payment_order import Status
from payments.domain.reconciliation_run import INFO
from payments.projections.audit.seal import EventLogSeal
from payments.projections.audit.verify import NAMES, verify_projection
from payments.projections.source import ApplicationEventSource
from payments.psp.reconcile.engine import ReconcileOptions, reconcile_file
from payments.runtime.services import Services
from tests.integration.test_card_data_never_stored import dump_database_text
from tests.privacy.conftest import AUDIT_KEY, checkout_body, cli, count, new_key
from tests.projections.conftest import catch_up_all
from tests.reconciliation.records import captured, closed_by_payout, written

Client = TestClient  # type: ignore[type-arg]
GRACE = {
    "buyer_id": "buyer_grace_1906",
    "name": "Grace Hopper",
    "email": "grace.hopper@example.com",
    "address": {"line1": "12 Cobol Lane", "city": "Arlington"},
    "phone": "+1 202 555 0199",
}


def place(client: Client, buyer_info: dict[str, Any]) -> dict[str, Any]:
    body = checkout_body(buyer_info)
    response = client.post("/payments", json=body, headers=new_key())
    assert response.status_code == 201, response.text
    return body


def buyer_info_of(client: Client, checkout_id: str) -> dict[str, Any]:
    response = client.get(f"/privacy/checkouts/{checkout_id}/buyer-info")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def settle(services: Services, body: dict[str, Any]) -> str:
    """Charge the checkout's order at the 'PSP' (as the executor records it)."""
    order_id: str = body["payment_orders"][0]["payment_order_id"]
    order = services.application.get_order(order_id)
    order.start_execution()
    order.record_success(f"ch_{order_id}", source="test")
    services.application.record(order)
    return order_id


def test_buyer_info_is_stored_encrypted_and_read_back_through_the_privacy_read(
    client: Client, services: Services
) -> None:
    body = place(client, GRACE)
    stored = dump_database_text(services)
    for secret in ("Grace Hopper", "grace.hopper@example.com", "Cobol Lane", "buyer_grace_1906"):
        assert secret not in stored
    assert "tok_visa_privacy" in stored  # the dump does show what is stored in clear
    # The Idempotency-Key row keeps a keyed fingerprint, not a plain hash of the body.
    canonical = msgspec.json.encode(msgspec.convert(body, CheckoutRequest), order="sorted")
    with services.pool.connection() as conn:
        fingerprints = {
            r[0] for r in conn.execute("SELECT request_fingerprint FROM idempotency_keys")
        }
    assert hashlib.sha256(canonical).hexdigest() not in fingerprints
    assert services.personal_data.keyed_hash(canonical) in fingerprints

    answer = buyer_info_of(client, body["checkout_id"])
    assert answer == {
        "checkout_id": body["checkout_id"],
        "state": "readable",
        "encrypted": True,
        "buyer_info": GRACE,
        "erased_at": None,
    }


def test_one_buyer_one_key_and_a_checkout_without_buyer_id_its_own(
    client: Client, services: Services
) -> None:
    before = count(services, "privacy_keys")
    place(client, {"buyer_id": "b_shared", "name": "Shared"})
    place(client, {"buyer_id": "b_shared", "name": "Shared"})
    place(client, {"name": "No id"})
    place(client, {"name": "No id"})
    assert count(services, "privacy_keys") == before + 3
    with services.pool.connection() as conn:
        digests = [r[0] for r in conn.execute("SELECT subject_digest FROM privacy_keys")]
    assert all(len(d) == 64 and "b_shared" not in d for d in digests)


def test_erasing_a_buyer_leaves_orders_ledger_as_of_history_audit_and_reconciliation_intact(
    client: Client, services: Services, tmp_path: Path
) -> None:
    first, second = place(client, GRACE), place(client, {**GRACE, "note": "second order"})
    other = place(client, {"buyer_id": "b_keeps_hers", "name": "Ada"})
    orders = [settle(services, b) for b in (first, second, other)]
    catch_up_all(services)
    seal = EventLogSeal(services.pool, AUDIT_KEY)
    assert seal.seal() is not None
    time.sleep(0.002)
    before_erasure = datetime.now(UTC)
    events_before = count(services, "payments_events")

    response = client.post(
        "/privacy/erasures", json={"buyer_id": GRACE["buyer_id"]}, headers=new_key()
    )
    assert response.status_code == 201, response.text
    erasure = response.json()
    assert erasure["keys_erased"] == 1
    # The admin key that asked, by its id (the prefix and id of the client's key).
    assert client.headers["authorization"].startswith(f"Bearer pk_test_{erasure['requested_by']}_")
    assert response.headers["location"] == f"/privacy/erasures/{erasure['erasure_id']}"
    assert count(services, "payments_events") == events_before + 1
    assert client.get(response.headers["location"]).json() == erasure

    # Her personal data is unreadable for good, in every checkout; Ada's is not.
    for body in (first, second):
        answer = buyer_info_of(client, body["checkout_id"])
        assert (answer["state"], answer["buyer_info"], answer["encrypted"]) == (
            "erased",
            None,
            True,
        )
        assert datetime.fromisoformat(answer["erased_at"]) >= before_erasure
    assert buyer_info_of(client, other["checkout_id"])["state"] == "readable"
    code, output = cli(services, "privacy", "show", "--checkout", first["checkout_id"])
    assert code == 0, output
    assert json.loads(output)["state"] == "erased"
    stored = dump_database_text(services)
    assert GRACE["buyer_id"] not in stored
    assert GRACE["email"] not in stored

    # Orders, checkouts, as-of answers, history and the ledger answer as before.
    catch_up_all(services)
    checkout = client.get(f"/checkouts/{first['checkout_id']}")
    assert checkout.status_code == 200, checkout.text
    assert [o["status"] for o in checkout.json()["payment_orders"]] == ["SUCCESS"]
    order = client.get(f"/payments/{orders[0]}").json()
    assert (order["status"], order["amount"], order["ledger_updated"]) == ("SUCCESS", "12.50", True)
    as_of = client.get(f"/payments/{orders[0]}", params={"as_of": before_erasure.isoformat()})
    assert as_of.status_code == 200, as_of.text
    assert as_of.json()["status"] == Status.SUCCESS.value
    history = client.get(f"/payments/{orders[0]}/history")
    assert history.status_code == 200
    assert len(history.json()["events"]) == 3
    trial = client.get("/ledger/trial-balance").json()
    assert trial["balanced"] is True
    assert client.get("/ledger/trial-balance", params={"as_of": before_erasure.isoformat()}).json()[
        "balanced"
    ]

    # The sealed chain covers the ciphertext, which did not change: the check passes, and
    # sealing on over the Erasure event works. Every view rebuilds identical to the live one.
    assert seal.check().ok
    assert seal.seal() is not None
    assert seal.check().ok
    code, output = cli(services, "audit", "check")
    assert code == 0, output
    source = ApplicationEventSource(services.application)
    assert all(verify_projection(services.pool, source, name).identical for name in NAMES)

    # Reconciliation replays the history of her orders like any other.
    path = settlement_file(tmp_path, orders)
    outcome = reconcile_file(
        services.reconciliations, path, ReconcileOptions("USD", as_of=datetime.now(UTC))
    )
    assert sum(chunk.matched for chunk in outcome.run.chunks) == 3
    assert [f for f in outcome.run.findings if outcome.run.state_of(f) != INFO] == []


def settlement_file(tmp_path: Path, order_ids: list[str]) -> Path:
    moment = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    batch = int(moment.strftime("%Y%m%d"))
    lines = [captured(order_id, 1250, moment, batch) for order_id in order_ids]
    return written(tmp_path / "settlement.csv", closed_by_payout(lines, moment, batch))


def test_erasing_again_answers_the_earlier_erasure_and_a_replayed_key_its_answer(
    client: Client, services: Services
) -> None:
    body = place(client, {"buyer_id": "b_twice", "name": "Twice"})
    key = new_key()
    first = client.post("/privacy/erasures", json={"buyer_id": "b_twice"}, headers=key)
    assert first.status_code == 201
    replay = client.post("/privacy/erasures", json={"buyer_id": "b_twice"}, headers=key)
    assert (replay.status_code, replay.content) == (201, first.content)
    assert replay.headers["idempotent-replayed"] == "true"
    events = count(services, "payments_events")
    again = client.post("/privacy/erasures", json={"buyer_id": "b_twice"}, headers=new_key())
    assert again.status_code == 200
    assert again.json()["erasure_id"] == first.json()["erasure_id"]
    assert count(services, "payments_events") == events
    # The same key with another body is refused, as for every creating POST.
    other = client.post("/privacy/erasures", json={"buyer_id": "b_other"}, headers=key)
    assert other.status_code == 422
    # A later checkout of the same buyer gets a new key, readable until erased in turn.
    later = place(client, {"buyer_id": "b_twice", "name": "Twice, later"})
    assert buyer_info_of(client, later["checkout_id"])["state"] == "readable"
    assert buyer_info_of(client, body["checkout_id"])["state"] == "erased"


def test_erasing_a_checkout_without_buyer_id_through_the_command_line(
    client: Client, services: Services
) -> None:
    body = place(client, {"name": "Anonymous", "email": "anon@example.com"})
    code, output = cli(services, "privacy", "erase", "--checkout", body["checkout_id"], "--json")
    assert code == 0, output
    erasure = json.loads(output)
    assert erasure["keys_erased"] == 1
    assert erasure["requested_by"].startswith("cli")
    assert buyer_info_of(client, body["checkout_id"])["state"] == "erased"
    code, output = cli(services, "privacy", "erase", "--checkout", body["checkout_id"])
    assert code == 0
    assert output.startswith("already erased: 1 key(s)")
    code, output = cli(services, "privacy", "erase", "--buyer", "b_never_seen")
    assert code == 1
    assert "no personal data" in output


BAD_REQUESTS: dict[str, tuple[Any, int, str]] = {
    "empty": ({}, 422, "body"),
    "both": ({"buyer_id": "b_1", "checkout_id": "co_1"}, 422, "body"),
    "unknown field": ({"buyer_id": "b_1", "reason": "asked"}, 422, "body"),
    "empty buyer_id": ({"buyer_id": ""}, 422, "buyer_id"),
    "long buyer_id": ({"buyer_id": "b" * 129}, 422, "buyer_id"),
    "buyer_id number": ({"buyer_id": 42}, 422, "buyer_id"),
    "checkout_id chars": ({"checkout_id": "co/../1"}, 422, "checkout_id"),
    "not an object": (["b_1"], 422, "body"),
    "card number as buyer_id": ({"buyer_id": "4242 4242 4242 4242"}, 422, "buyer_id"),
    "never had a key": ({"buyer_id": "b_unknown"}, 404, ""),
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_a_wrong_erasure_request_is_refused_and_writes_nothing(
    name: str, client: Client, services: Services
) -> None:
    body, status, field = BAD_REQUESTS[name]
    tables = ("payments_events", "privacy_keys", "idempotency_keys")
    before = [count(services, t) for t in tables]
    response = client.post("/privacy/erasures", json=body, headers=new_key())
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field:
        assert field in [e["field"] for e in response.json()["errors"]], response.text
    assert "4242" not in response.text
    assert [count(services, t) for t in tables] == before


def test_an_erasure_needs_an_idempotency_key(client: Client) -> None:
    response = client.post("/privacy/erasures", json={"buyer_id": "b_1"})
    assert response.status_code == 400


def test_reads_of_unknown_checkouts_and_erasures_are_404(client: Client) -> None:
    assert client.get("/privacy/checkouts/co_nope/buyer-info").status_code == 404
    assert client.get("/privacy/erasures/not-a-uuid").status_code == 404
    assert client.get(f"/privacy/erasures/{'0' * 32}").status_code == 404
