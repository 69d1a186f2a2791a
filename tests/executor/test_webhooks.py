"""POST /webhooks/psp: forged, stale, duplicate and reordered deliveries."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from payments.domain.payment_order import Status
from payments.psp.signing import sign_payload
from tests.executor.conftest import WEBHOOK_SECRET, Stack
from tests.executor.helpers import event_names, place, post_event, psp_event, terminal
from tests.payouts.helpers import PENDING_ID, onboard, seller


def charge_event(order_id: str, status: str, charge_id: str = "ch_webhooktest") -> dict[str, Any]:
    return psp_event(
        f"evt_{order_id}_{status}",
        f"charge.{status}",
        {
            "id": charge_id,
            "reference": order_id,
            "status": status,
            "failure_code": "card_declined" if status == "failed" else None,
        },
    )


def pending_order(stack: Stack) -> str:
    [order_id] = place(stack, stack.sandbox.token("pending"), ["8"])
    stack.settle(lambda: stack.order(order_id).pending_at_psp or terminal(stack, order_id))
    return order_id


def settled_by_its_webhook(stack: Stack) -> str:
    """An order of the pending card, settled by the sandbox's own webhook."""
    order_id = pending_order(stack)
    stack.settle(lambda: terminal(stack, order_id))
    return order_id


def test_forged_signature_is_401_and_records_nothing(stack: Stack) -> None:
    [order_id] = place(stack, "tok_neverchargedanywhere", ["1"])
    before = event_names(stack, order_id)
    response = post_event(stack, charge_event(order_id, "succeeded"), secret="whsec_wrong")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert event_names(stack, order_id) == before


def test_stale_signature_is_401_and_records_nothing(stack: Stack) -> None:
    [order_id] = place(stack, "tok_neverchargedanywhere", ["1"])
    before = event_names(stack, order_id)
    response = post_event(
        stack, charge_event(order_id, "succeeded"), timestamp=int(time.time()) - 301
    )
    assert response.status_code == 401
    assert event_names(stack, order_id) == before


def test_missing_or_malformed_signature_is_400(stack: Stack) -> None:
    body = json.dumps(charge_event("x", "succeeded")).encode()
    assert stack.http.post("/webhooks/psp", content=body).status_code == 400
    bad = stack.http.post("/webhooks/psp", content=body, headers={"PSP-Signature": "nonsense"})
    assert bad.status_code == 400


def test_signed_garbage_body_is_400(stack: Stack) -> None:
    body = b"not json"
    header = sign_payload(WEBHOOK_SECRET, body, int(time.time()))
    response = stack.http.post("/webhooks/psp", content=body, headers={"PSP-Signature": header})
    assert response.status_code == 400


def test_duplicate_webhooks_change_nothing(stack: Stack) -> None:
    order_id = settled_by_its_webhook(stack)
    reference = stack.order(order_id).psp_reference
    before = event_names(stack, order_id)
    for _ in range(3):
        response = post_event(stack, charge_event(order_id, "succeeded", str(reference)))
        assert response.status_code == 200
        assert response.json()["outcome"] == "no change"
    assert event_names(stack, order_id) == before


def test_a_repeat_of_the_recorded_outcome_needs_no_look_up(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executor's answer recorded the success; the webhook saying the same is answered
    without asking the PSP again. A claim that differs is still looked up."""
    order_id = settled_by_its_webhook(stack)
    reference = str(stack.order(order_id).psp_reference)
    looked_up: list[str] = []
    client = stack.services.psp_client
    assert client is not None

    class CountingLookups:  # the real client, over real HTTP, counting its look-ups
        def __getattr__(self, name: str) -> Any:
            return getattr(client, name)

        def find_charge(self, payment_order_id: str) -> Any:
            looked_up.append(payment_order_id)
            return client.find_charge(payment_order_id)

    monkeypatch.setitem(stack.services.__dict__, "psp_client", CountingLookups())
    before = event_names(stack, order_id)
    repeat = post_event(stack, charge_event(order_id, "succeeded", reference))
    assert repeat.json()["outcome"] == "no change"
    assert looked_up == []
    differs = post_event(stack, charge_event(order_id, "failed", reference))
    assert differs.json()["outcome"] == "no change"  # the look-up says succeeded, as we do
    assert looked_up == [order_id]
    assert event_names(stack, order_id) == before


def test_reordered_pending_after_success_changes_nothing(stack: Stack) -> None:
    order_id = settled_by_its_webhook(stack)
    before = event_names(stack, order_id)
    response = post_event(stack, charge_event(order_id, "pending", "ch_old"))
    assert response.status_code == 200
    assert event_names(stack, order_id) == before
    assert stack.order(order_id).status is Status.SUCCESS


def test_a_signed_webhook_the_psp_does_not_back_records_nothing(stack: Stack) -> None:
    """A contradicting late outcome, or a success for a charge the PSP never made."""
    order_id = settled_by_its_webhook(stack)
    before = event_names(stack, order_id)
    response = post_event(stack, charge_event(order_id, "failed", "ch_other"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "no change"  # the look-up says succeeded, as we do
    assert event_names(stack, order_id) == before
    [never_charged] = place(stack, "tok_neverchargedanywhere", ["1"])
    stack.settle(lambda: terminal(stack, never_charged))
    before = event_names(stack, never_charged)
    forged = post_event(stack, charge_event(never_charged, "succeeded", "ch_forged"))
    assert forged.status_code == 200
    assert forged.json()["outcome"].startswith("ignored: not confirmed")
    assert event_names(stack, never_charged) == before
    assert stack.order(never_charged).status is Status.FAILED


def test_a_failed_order_the_psp_later_reports_succeeded_is_a_visible_discrepancy(
    stack: Stack,
) -> None:
    [order_id] = place(stack, "tok_neverchargedanywhere", ["2"])
    stack.settle(lambda: terminal(stack, order_id))
    assert stack.order(order_id).status is Status.FAILED
    # A charge for our reference appears at the PSP afterwards (made outside the executor);
    # its webhook comes from the sandbox, and we send one more ourselves.
    stray = stack.sandbox.charge_directly(order_id, stack.sandbox.token("success"), 200)
    response = post_event(stack, charge_event(order_id, "succeeded", stray))
    assert response.status_code == 200
    order = stack.order(order_id)
    assert order.status is Status.FAILED
    assert order.discrepancies >= 1
    assert set(event_names(stack, order_id)[-order.discrepancies :]) == {"DiscrepancyRecorded"}


def test_webhook_for_unknown_order_is_acknowledged_and_ignored(stack: Stack) -> None:
    response = post_event(stack, charge_event("no_such_order", "succeeded"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored: unknown reference"


def test_sandbox_duplicated_and_reordered_webhooks_settle_each_order_once(stack: Stack) -> None:
    with (
        stack.sandbox.faulty(kind="duplicate_webhook", count=2),
        stack.sandbox.faulty(kind="reorder_webhooks", count=2),
    ):
        ids = [pending_order(stack) for _ in range(2)]
        stack.settle(lambda: terminal(stack, *ids))
    for order_id in ids:
        assert event_names(stack, order_id).count("Succeeded") == 1
        assert stack.sandbox.charges(order_id) == 1


@pytest.mark.parametrize("psp_id", ["", "a/b", "..", "acct x", "../v1/balance", 7])
@pytest.mark.parametrize("kind", ["account.updated", "dispute.updated"])
def test_a_signed_event_naming_an_id_the_psp_could_not_have_given_is_ignored_not_asked_again(
    stack: Stack, kind: str, psp_id: object
) -> None:
    """The look-up puts the id in a URL path: an empty one asked the PSP's list route, which
    answered 400, and the event was answered 503 ("send it again later") forever. Such an id
    is acknowledged and ignored, as an unknown one is (an id that is no string: 400)."""
    account = seller("probe")
    onboard(stack, account, PENDING_ID)
    before = stack.services.sellers.find(account)
    assert before is not None
    event = {"id": psp_id, "reference": account, "status": "verified"}
    answer = post_event(stack, {"id": "evt_x", "type": kind, "data": {"object": event}})
    if isinstance(psp_id, str):
        assert answer.status_code == 200, answer.text
        noun = kind.split(".")[0]
        assert answer.json()["outcome"] == f"ignored: no {noun} id the PSP could have given"
    else:
        assert answer.status_code == 400, answer.text
    after = stack.services.sellers.find(account)
    assert after is not None
    assert after.version == before.version, "nothing recorded"
