"""Disputes end to end: the sandbox PSP over real HTTP, its signed webhooks confirmed by
look-up, PostgreSQL, the ledger view. Each test uses sellers of its own."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from payments.domain.dispute import Dispute, DisputeStatus
from payments.domain.ids import dispute_uuid
from payments.projections.views.ledger_pg import PostgresLedger
from payments.psp.dispute_sync import DisputeWatch
from tests.conftest import bearer
from tests.executor.conftest import Stack
from tests.executor.helpers import post_event, psp_event, terminal
from tests.waiting import wait_until

DISPUTED_CARD = "4000000000000259"
FEE = 1500  # the sandbox's dispute fee


def captured_order(stack: Stack, card: str = "success", amount: str = "100.00") -> str:
    """A checkout of one order for a seller of its own, charged; its payment_order_id."""
    checkout_id = f"co_{uuid.uuid4().hex[:16]}"
    order_id = f"{checkout_id}_0"
    body: dict[str, Any] = {
        "buyer_info": {"name": "Test"},
        "checkout_id": checkout_id,
        "credit_card_info": {"token": stack.sandbox.token(card)},
        "payment_orders": [
            {
                "seller_account": f"seller_{checkout_id}",
                "amount": amount,
                "currency": "USD",
                "payment_order_id": order_id,
            }
        ],
    }
    response = stack.http.post("/payments", json=body, headers={"Idempotency-Key": checkout_id})
    assert response.status_code == 201, response.text
    stack.settle(lambda: terminal(stack, order_id))
    assert stack.order(order_id).status.value == "SUCCESS"
    return order_id


def dispute_shown(stack: Stack, order_id: str, status: str | None = None) -> dict[str, Any]:
    """Wait until GET /payments/{id}/dispute answers (with that status); its body."""
    found: dict[str, Any] = {}

    def shown() -> bool:
        response = stack.http.get(f"/payments/{order_id}/dispute")
        if response.status_code == 200:
            found.update(response.json())
            return status is None or found["status"] == status
        assert response.status_code == 404, response.text
        return False

    wait_until(shown)
    return found


def admin_dispute(stack: Stack, order_id: str) -> str:
    """Open a dispute at the PSP on the order's charge, as a card network would; its id."""
    charge = stack.order(order_id).psp_reference
    response = httpx.post(f"{stack.sandbox.url}/admin/disputes", json={"charge": charge})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def evidence(stack: Stack, order_id: str, text: str, key: str | None = None) -> httpx.Response:
    return stack.http.post(
        f"/payments/{order_id}/dispute/evidence",
        json={"text": text},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def dispute_postings(stack: Stack, order_id: str) -> list[tuple[str, dict[str, int]]]:
    """The order's dispute transactions in the ledger view: kind and signed entries."""
    return [
        (t.kind, {p.account: p.debit_minor - p.credit_minor for p in t.postings})
        for t in PostgresLedger(stack.services.pool).transactions()
        if t.payment_order_id == order_id and t.kind.startswith("dispute")
    ]


def posted(stack: Stack, order_id: str, *kinds: str) -> list[tuple[str, dict[str, int]]]:
    wait_until(lambda: [k for k, _ in dispute_postings(stack, order_id)] == list(kinds))
    return dispute_postings(stack, order_id)


def dispute_events(stack: Stack, psp_dispute_id: str) -> list[str]:
    events = stack.services.application.events.get(dispute_uuid(psp_dispute_id))
    return [type(e).__name__ for e in events]


def seller_of(order_id: str) -> str:
    return f"seller:seller_{order_id.removesuffix('_0')}"


# --- the disputed card: opened, withdrawn, answered, won ----------------------------------------


def test_the_disputed_card_is_recorded_withdrawn_and_won_back_with_evidence(stack: Stack) -> None:
    order_id = captured_order(stack, DISPUTED_CARD)
    shown = dispute_shown(stack, order_id, "needs_response")
    assert shown["amount"] == "100.00"
    assert (shown["fee"], shown["currency"], shown["reason"]) == ("15.00", "USD", "fraudulent")
    assert shown["dispute_id"].startswith("dp_")
    assert shown["evidence_submitted_at"] is None
    assert shown["closed_at"] is None
    order = stack.http.get(f"/payments/{order_id}").json()
    assert order["dispute"] == shown
    seller = seller_of(order_id)
    opened = posted(stack, order_id, "dispute_opened")
    # PAYMENTS_REFUND_COMMISSION=return with no commission configured: the seller bears all.
    assert opened == [
        (
            "dispute_opened",
            {seller: 10000, "dispute_fees": FEE, "psp_receivable": -(10000 + FEE)},
        )
    ]

    wallet_url = f"/wallets/{seller.removeprefix('seller:')}"
    # Pending until the PSP settles the capture; the dispute took it from available.
    wait_until(lambda: stack.http.get(wallet_url).json()["available"] == "-100.00")
    assert stack.http.get(wallet_url).json()["pending"] == "100.00"

    merchant = bearer(stack.services, "merchant")
    key = uuid.uuid4().hex
    body = {"text": "winning_evidence: signed delivery receipt"}
    url = f"/payments/{order_id}/dispute/evidence"
    answer = stack.http.post(url, json=body, headers={**merchant, "Idempotency-Key": key})
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "under_review"
    assert answer.json()["evidence_submitted_at"] is not None
    replay = stack.http.post(url, json=body, headers={**merchant, "Idempotency-Key": key})
    assert replay.status_code == 202
    assert replay.content == answer.content
    assert replay.headers["idempotent-replayed"] == "true"

    won = dispute_shown(stack, order_id, "won")
    assert won["closed_at"] is not None
    assert posted(stack, order_id, "dispute_opened", "dispute_won")[1] == (
        "dispute_won",
        {seller: -10000, "psp_receivable": 10000},
    )
    assert dispute_events(stack, shown["dispute_id"]) == ["Opened", "EvidenceSubmitted", "Won"]
    merchant_id = merchant["Authorization"].split("_")[2]
    actions = stack.http.get("/audit/actions", params={"actor": merchant_id}).json()["actions"]
    assert [(a["action"], a["subject"]) for a in actions] == [
        ("dispute.evidence_submitted", order_id)
    ]
    assert actions[0]["detail"] == "winning_evidence: signed delivery receipt"
    assert stack.order(order_id).disputed_minor == 0
    wait_until(lambda: stack.http.get(wallet_url).json()["available"] == "0.00")
    # The order status view applied the dispute events too (it rebuilds orders from rows).
    head = stack.services.application.recorder.max_notification_id()
    fresh = stack.http.get(f"/payments/{order_id}", params={"min_position": str(head)})
    assert fresh.status_code == 200, fresh.text


def test_losing_evidence_loses_and_a_closed_dispute_takes_no_more(stack: Stack) -> None:
    order_id = captured_order(stack)
    dispute_id = admin_dispute(stack, order_id)
    dispute_shown(stack, order_id, "needs_response")
    assert evidence(stack, order_id, "losing_evidence: none").status_code == 202
    lost = dispute_shown(stack, order_id, "lost")
    assert lost["dispute_id"] == dispute_id
    assert dispute_events(stack, dispute_id) == ["Opened", "EvidenceSubmitted", "Lost"]
    assert [k for k, _ in posted(stack, order_id, "dispute_opened")] == ["dispute_opened"]
    refused = evidence(stack, order_id, "winning_evidence: too late now")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/dispute-closed")
    assert stack.order(order_id).disputed_minor == 10000


def test_an_admin_opened_dispute_on_any_charge_is_recorded(stack: Stack) -> None:
    order_id = captured_order(stack, amount="42.10")
    dispute_id = admin_dispute(stack, order_id)
    shown = dispute_shown(stack, order_id)
    assert (shown["dispute_id"], shown["amount"], shown["reason"]) == (
        dispute_id,
        "42.10",
        "general",
    )


def test_evidence_sent_twice_goes_to_the_psp_once(stack: Stack) -> None:
    order_id = captured_order(stack)
    admin_dispute(stack, order_id)
    dispute_shown(stack, order_id)
    assert evidence(stack, order_id, "receipt and tracking number").status_code == 202
    again = evidence(stack, order_id, "receipt and tracking number", key=uuid.uuid4().hex)
    assert again.status_code == 409  # under review: evidence goes in once


# --- webhooks are hints: confirmed by look-up, duplicates and forgeries change nothing -----------


def test_a_forged_outcome_records_only_what_the_psp_confirms(stack: Stack) -> None:
    order_id = captured_order(stack)
    dispute_id = admin_dispute(stack, order_id)
    dispute_shown(stack, order_id)
    forged = psp_event(
        "evt_forged_1",
        "dispute.won",
        {"id": dispute_id, "status": "won", "charge_reference": order_id},
    )
    answer = post_event(stack, forged)
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "no change"
    assert dispute_shown(stack, order_id)["status"] == "needs_response"
    unknown = {**forged, "id": "evt_forged_2", "data": {"object": {"id": "dp_madeup"}}}
    assert post_event(stack, unknown).json()["outcome"] == "ignored: the PSP holds no such dispute"
    hostile = {**forged, "id": "evt_forged_3", "data": {"object": {"id": "../v1/balance"}}}
    assert post_event(stack, hostile).json()["outcome"].startswith("ignored")
    unsigned = stack.http.post("/webhooks/psp", json=forged)
    assert unsigned.status_code == 400
    assert dispute_events(stack, dispute_id) == ["Opened"]
    assert [k for k, _ in dispute_postings(stack, order_id)] in ([], ["dispute_opened"])


def test_duplicate_and_repeated_webhooks_record_a_dispute_once(stack: Stack) -> None:
    order_id = captured_order(stack)
    stack.sandbox.fault(kind="duplicate_webhook", count=1)
    dispute_id = admin_dispute(stack, order_id)
    dispute_shown(stack, order_id)
    event = psp_event("evt_again", "dispute.created", {"id": dispute_id})
    for _ in range(3):
        assert post_event(stack, event).json()["outcome"] == "no change"
    time.sleep(0.5)  # the duplicate delivery has come by now
    assert dispute_events(stack, dispute_id) == ["Opened"]
    assert [k for k, _ in posted(stack, order_id, "dispute_opened")] == ["dispute_opened"]


def test_a_dropped_outcome_webhook_is_found_by_the_requery(stack: Stack) -> None:
    order_id = captured_order(stack)
    dispute_id = admin_dispute(stack, order_id)
    dispute_shown(stack, order_id)
    stack.sandbox.fault(kind="drop_webhook", endpoint="disputes", object_id=dispute_id, count=1)
    closed = httpx.post(
        f"{stack.sandbox.url}/admin/disputes/{dispute_id}/close", json={"outcome": "won"}
    )
    assert closed.status_code == 200
    time.sleep(0.5)
    assert dispute_shown(stack, order_id)["status"] == "needs_response"  # nothing came
    client = stack.services.psp_client
    assert client is not None
    summary = DisputeWatch(stack.services.application).requery(client, stack.services.disputes)
    assert "1 recorded" in summary
    assert dispute_shown(stack, order_id)["status"] == "won"


# --- refusals -----------------------------------------------------------------------------------


def test_evidence_for_an_order_without_dispute_or_unknown_is_404(stack: Stack) -> None:
    order_id = captured_order(stack)
    for path_order in (order_id, "po_never_placed"):
        answer = evidence(stack, path_order, "receipt")
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert stack.http.get(f"/payments/{path_order}/dispute").status_code == 404
    assert stack.http.get(f"/payments/{order_id}").json()["dispute"] is None


def test_evidence_bodies_are_checked_before_the_psp(stack: Stack) -> None:
    order_id = captured_order(stack)
    admin_dispute(stack, order_id)
    dispute_shown(stack, order_id)
    url = f"/payments/{order_id}/dispute/evidence"
    for body in ({"text": ""}, {"text": "x" * 4001}, {"text": "ok", "extra": 1}, {}):
        answer = stack.http.post(url, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert answer.status_code == 422, (body, answer.text)
    card = {"text": "card 4242 4242 4242 4242 was used"}
    refused = stack.http.post(url, json=card, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert refused.status_code == 422
    assert stack.http.post(url, json={"text": "ok"}).status_code == 400  # no Idempotency-Key
    seller = bearer(stack.services, "seller", seller="seller_x")
    headers = {**seller, "Idempotency-Key": uuid.uuid4().hex}
    assert stack.http.post(url, json={"text": "ok"}, headers=headers).status_code == 403
    finance = bearer(stack.services, "finance")
    headers = {**finance, "Idempotency-Key": uuid.uuid4().hex}
    assert stack.http.post(url, json={"text": "ok"}, headers=headers).status_code == 403
    assert stack.http.get(f"/payments/{order_id}/dispute", headers=finance).status_code == 200
    assert dispute_shown(stack, order_id)["status"] == "needs_response"


# --- second chargeback ---------------------------------------------------------------------------


def test_a_won_dispute_reopened_is_a_second_chargeback(stack: Stack) -> None:
    order_id = captured_order(stack)
    dispute_id = admin_dispute(stack, order_id)
    dispute_shown(stack, order_id)
    assert evidence(stack, order_id, "winning_evidence: receipt").status_code == 202
    dispute_shown(stack, order_id, "won")
    reopened = httpx.post(f"{stack.sandbox.url}/admin/disputes/{dispute_id}/reopen")
    assert reopened.status_code == 200, reopened.text
    shown = dispute_shown(stack, order_id, "lost")
    assert shown["second_chargeback"] is True
    seller = seller_of(order_id)
    assert posted(stack, order_id, "dispute_opened", "dispute_won", "dispute_reopened")[2] == (
        "dispute_reopened",
        {seller: 10000, "psp_receivable": -10000},
    )
    assert dispute_events(stack, dispute_id)[-1] == "Reopened"
    dispute = stack.services.disputes.find(dispute_id)
    assert dispute is not None
    assert dispute.status is DisputeStatus.LOST
    assert isinstance(dispute, Dispute)
    assert stack.order(order_id).disputed_minor == 10000


# --- refunds and disputes take from the same order ----------------------------------------------


def test_a_dispute_after_a_partial_refund_takes_what_is_left_and_refunds_stop(
    stack: Stack,
) -> None:
    order_id = captured_order(stack)
    refund = stack.http.post(
        f"/payments/{order_id}/refunds",
        json={"amount": "40.00"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 201, refund.text
    refund_id = refund.json()["refund_id"]
    stack.settle(lambda: stack.http.get(f"/refunds/{refund_id}").json()["status"] == "SUCCEEDED")
    admin_dispute(stack, order_id)
    shown = dispute_shown(stack, order_id)
    assert shown["amount"] == "60.00"  # the PSP disputes what was not refunded
    order = stack.http.get(f"/payments/{order_id}").json()
    assert (order["refunded"], order["refundable"]) == ("40.00", "0.00")
    more = stack.http.post(
        f"/payments/{order_id}/refunds",
        json={"amount": "1.00"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert more.status_code == 422, more.text
    seller = seller_of(order_id)
    assert posted(stack, order_id, "dispute_opened")[0][1] == {
        seller: 6000,
        "dispute_fees": FEE,
        "psp_receivable": -(6000 + FEE),
    }
