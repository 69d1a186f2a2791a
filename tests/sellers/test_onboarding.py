"""Sellers onboarded through the sandbox PSP's KYC over HTTP; payouts only to verified ones."""

from __future__ import annotations

import httpx

from payments.psp.signing import sign_payload
from payments.runtime import kyc
from payments.runtime.keys import parse_key
from tests.executor.conftest import Stack
from tests.executor.helpers import post_event
from tests.payouts.helpers import (
    PENDING_ID,
    REJECTED_ID,
    VERIFIED_ID,
    api_get,
    credit,
    onboard,
    post_payout,
    requested_payout_id,
    seller,
    seller_body,
)
from tests.waiting import wait_until


def _kyc(stack: Stack, account: str) -> str:
    return str(api_get(stack, f"/sellers/{account}")["kyc_status"])


def _charge(stack: Stack, account: str, amount: str) -> None:
    """Credit a seller already registered (credit() onboards only unknown sellers)."""
    credit(stack, account, [amount])


def _key_id(stack: Stack) -> str:
    parsed = parse_key(stack.http.headers["authorization"].removeprefix("Bearer "))
    assert parsed is not None
    return parsed[1]


def test_a_seller_with_the_verified_test_id_passes_kyc_and_is_paid_out(stack: Stack) -> None:
    account = seller("ok")
    created = onboard(stack, account, VERIFIED_ID)
    assert created["kyc_status"] == "verified"
    assert created["payable"] is True
    assert created["psp_account_id"].startswith("acct_")
    assert created["legal_name"] == f"Shop {account}"
    assert created["personal_data"] == "readable"
    at_psp = httpx.get(f"{stack.sandbox.url}/v1/accounts/{created['psp_account_id']}").json()
    assert (at_psp["reference"], at_psp["status"]) == (account, "verified")
    credit(stack, account, ["25"])
    answer = post_payout(stack, account)
    assert answer.status_code == 201, answer.text


def test_a_rejected_seller_is_never_paid_out(stack: Stack) -> None:
    account = seller("rej")
    created = onboard(stack, account, REJECTED_ID)
    assert (created["kyc_status"], created["kyc_rejection_reason"]) == (
        "rejected",
        "id_number_mismatch",
    )
    _charge(stack, account, "25")
    refused = post_payout(stack, account, key=f"refused-{account}")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/seller-not-payable")
    assert "rejected" in problem["detail"]
    payout_id = requested_payout_id(stack, f"refused-{account}")
    assert stack.services.application.find_payout(payout_id) is None  # nothing written
    wallet = stack.services.application.find_wallet(account)
    assert wallet is not None
    assert wallet.reserved == {}
    run = stack.services.payouts.run_payouts("2033-01-01", [account], 1)
    assert (run.created, run.not_payable) == (0, 1)
    assert run.refusals == [(account, f"seller {account!r} has not passed KYC (KYC rejected)")]


def test_a_payout_waits_for_kyc_decided_later_and_confirmed_by_look_up(stack: Stack) -> None:
    account = seller("wait")
    created = onboard(stack, account, PENDING_ID)
    assert created["kyc_status"] == "pending"
    _charge(stack, account, "30")
    waiting = post_payout(stack, account)
    assert waiting.status_code == 422, waiting.text
    assert "KYC pending" in waiting.json()["detail"]
    # The PSP decides; its account.updated webhook is a hint our API confirms by look-up.
    decided = httpx.post(f"{stack.sandbox.url}/admin/accounts/{created['psp_account_id']}/verify")
    assert decided.status_code == 200, decided.text
    wait_until(lambda: _kyc(stack, account) == "verified")
    paid = post_payout(stack, account)
    assert paid.status_code == 201, paid.text


def test_the_kyc_job_records_a_decision_whose_webhook_was_lost(stack: Stack) -> None:
    account = seller("lost")
    created = onboard(stack, account, PENDING_ID)
    account_id = created["psp_account_id"]
    with stack.sandbox.faulty(
        kind="drop_webhook", endpoint="accounts", object_id=account_id, count=1
    ):
        rejected = httpx.post(f"{stack.sandbox.url}/admin/accounts/{account_id}/reject")
        assert rejected.status_code == 200
    assert _kyc(stack, account) == "pending"
    outcomes = kyc.refresh_awaiting(stack.services)
    assert outcomes.get("recorded", 0) >= 1, outcomes
    found = api_get(stack, f"/sellers/{account}")
    assert (found["kyc_status"], found["kyc_rejection_reason"]) == (
        "rejected",
        "verification_failed",
    )


def test_a_submission_whose_answer_is_lost_is_recovered_by_the_kyc_job(stack: Stack) -> None:
    """The PSP records the account and answers 500 (as if the process died before reading
    the answer): the seller stays unverified; the job finds the account by reference."""
    account = seller("crash")
    with stack.sandbox.faulty(kind="charged_but_500", endpoint="accounts", count=1):
        created = onboard(stack, account, VERIFIED_ID)
    assert created["kyc_status"] == "unverified"
    assert created["onboarding"].startswith("not submitted yet")
    kyc.refresh_awaiting(stack.services)
    found = api_get(stack, f"/sellers/{account}")
    assert found["kyc_status"] == "verified"
    listed = httpx.get(f"{stack.sandbox.url}/v1/accounts", params={"reference": account}).json()
    assert [a["id"] for a in listed["data"]] == [found["psp_account_id"]]  # no second account


def test_a_forged_or_unconfirmed_account_webhook_records_nothing(stack: Stack) -> None:
    account = seller("forged")
    created = onboard(stack, account, PENDING_ID)
    claim = {
        "id": f"evt_forged_{account}",
        "type": "account.updated",
        "data": {
            "object": {"id": created["psp_account_id"], "reference": account, "status": "verified"}
        },
    }
    forged = post_event(stack, claim, secret="whsec_not_ours")
    assert forged.status_code == 401, forged.text
    unsigned = stack.http.post("/webhooks/psp", json=claim)
    assert unsigned.status_code == 400, unsigned.text
    # Signed rightly, but the PSP's look-up says pending: the claim is not recorded.
    unconfirmed = post_event(stack, claim)
    assert unconfirmed.status_code == 200, unconfirmed.text
    assert unconfirmed.json()["outcome"] == "no change"
    stranger = post_event(stack, {**claim, "data": {"object": {"id": "acct_x", "reference": "x"}}})
    assert stranger.json()["outcome"] == "ignored: unknown reference"
    assert _kyc(stack, account) == "pending"
    assert sign_payload  # the helper signs with the deployment's secret


def test_suspension_stops_payouts_and_charges_until_reinstated(stack: Stack) -> None:
    account = seller("susp")
    credit(stack, account, ["40"])
    suspended = stack.http.post(
        f"/sellers/{account}/suspend", json={"reason": "chargeback ring under review"}
    )
    assert suspended.status_code == 200, suspended.text
    assert (suspended.json()["suspended"], suspended.json()["payable"]) == (True, False)
    refused = post_payout(stack, account)
    assert refused.status_code == 422, refused.text
    assert "suspended" in refused.json()["detail"]
    run = stack.services.payouts.run_payouts("2033-02-01", [account], 1)
    assert run.not_payable == 1
    checkout = {
        "buyer_info": {},
        "checkout_id": f"co_{account}",
        "credit_card_info": {"token": stack.sandbox.token("success")},
        "payment_orders": [
            {
                "seller_account": account,
                "amount": "5.00",
                "currency": "USD",
                "payment_order_id": f"po_{account}",
            }
        ],
    }
    charge = stack.http.post("/payments", json=checkout, headers={"Idempotency-Key": account})
    assert charge.status_code == 422, charge.text
    [error] = charge.json()["errors"]
    assert error["field"] == "payment_orders[0].seller_account"
    assert f"po_{account}" in error["message"]
    actions = api_get(stack, f"/audit/actions?actor={_key_id(stack)}&limit=200")["actions"]
    mine = [a for a in actions if a["subject"] == account and a["action"] == "seller.suspended"]
    assert [a["detail"] for a in mine] == ["chargeback ring under review"]
    again = stack.http.post(f"/sellers/{account}/reinstate", json={"reason": "cleared"})
    assert again.status_code == 200
    assert again.json()["payable"] is True
    assert post_payout(stack, account).status_code == 201


def test_sellers_are_listed_by_account_with_keyset_paging(stack: Stack) -> None:
    prefix = seller("list")
    accounts = [f"{prefix}_{i}" for i in range(3)]
    for account in accounts:
        onboard(stack, account, PENDING_ID)
    first = api_get(stack, f"/sellers?after={prefix}&limit=2")
    assert [s["seller_account"] for s in first["sellers"]] == accounts[:2]
    assert first["next_after"] == accounts[1]
    second = api_get(stack, f"/sellers?after={first['next_after']}&limit=2")
    assert second["sellers"][0]["seller_account"] == accounts[2]
    pending = api_get(stack, f"/sellers?after={prefix}&kyc_status=pending&limit=100")
    assert {s["seller_account"] for s in pending["sellers"]} >= set(accounts)


def test_an_update_is_an_event_and_an_erasure_makes_personal_data_unreadable(
    stack: Stack,
) -> None:
    account = seller("upd")
    onboard(stack, account, VERIFIED_ID)
    before = stack.services.sellers.get(account).version
    changed = stack.http.patch(f"/sellers/{account}", json={"legal_name": "Ada Renamed"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["legal_name"] == "Ada Renamed"
    assert stack.services.sellers.get(account).version == before + 1  # one Updated event
    erased = stack.http.post(
        "/privacy/erasures",
        json={"seller_account": account},
        headers={"Idempotency-Key": f"erase-{account}"},
    )
    assert erased.status_code == 201, erased.text
    after = api_get(stack, f"/sellers/{account}")
    assert (after["personal_data"], after["legal_name"], after["contact"]) == ("erased", None, None)
    assert after["kyc_status"] == "verified"  # the KYC outcome and the money stay


def test_a_second_registration_of_a_seller_is_a_conflict(stack: Stack) -> None:
    account = seller("dup")
    onboard(stack, account, VERIFIED_ID)
    again = stack.http.post(
        "/sellers",
        json=seller_body(stack, account, VERIFIED_ID),
        headers={"Idempotency-Key": f"other-{account}"},
    )
    assert again.status_code == 409, again.text


def test_metrics_count_sellers_by_kyc_and_suspension(stack: Stack) -> None:
    onboard(stack, seller("m_ok"), VERIFIED_ID)
    onboard(stack, seller("m_wait"), PENDING_ID)
    api_get(stack, "/sellers?limit=1")  # the sellers view caught up with the log
    text = stack.http.get("/metrics").text
    lines = [line for line in text.splitlines() if line.startswith("payments_sellers{")]
    assert any('kyc="verified"' in line and 'suspended="false"' in line for line in lines), text
    assert any('kyc="pending"' in line for line in lines), lines
    assert all(float(line.rsplit(" ", 1)[1]) >= 1 for line in lines), lines
