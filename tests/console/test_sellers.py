"""Sellers in the browser: sellers registered through the sandbox PSP's KYC show their status;
an operator suspends one and reinstates it, confirmed, its key id recorded; who sees what;
the list pages by account with a KYC filter."""

from __future__ import annotations

import uuid
from typing import Any

from payments.domain.api_key import Role
from payments.domain.seller import Seller
from payments.domain.seller_commands import RegisterSeller
from tests.console.conftest import Console, csrf, follow, refuses_forged_reason_forms, screenshot
from tests.payouts.helpers import REJECTED_ID, VERIFIED_ID, onboard, seller


def _suspensions(console: Console, account: str) -> list[Any]:
    found = console.stack.services.sellers.get(account)
    events = console.stack.services.application.events.get(found.id)
    return [e for e in events if isinstance(e, Seller.Suspended | Seller.Reinstated)]


def test_kyc_statuses_and_an_operator_suspends_and_reinstates(console: Console) -> None:
    stack = console.stack
    verified, rejected = seller("cv"), seller("cr")
    assert onboard(stack, verified, VERIFIED_ID)["kyc_status"] == "verified"
    assert onboard(stack, rejected, REJECTED_ID)["kyc_status"] == "rejected"

    page = console.signed_in(Role.OPERATOR)
    page.get_by_role("link", name="Sellers").click()
    page.get_by_label("KYC status").select_option("verified")
    page.get_by_role("button", name="Filter").click()
    listed = page.locator("#sellers tbody th").all_inner_texts()
    assert verified in listed
    assert rejected not in listed
    page.get_by_label("KYC status").select_option("rejected")
    page.get_by_role("button", name="Filter").click()
    assert rejected in page.locator("#sellers tbody th").all_inner_texts()
    page.get_by_role("link", name=rejected).click()
    assert page.locator("#seller-kyc").inner_text() == "rejected"
    assert page.locator("#seller-rejection").inner_text() != ""
    assert page.locator("#seller-payable").inner_text() == "no"
    assert "111111111" not in page.content(), "no id number, as GET /sellers/{account}"

    page.goto(f"{console.url}/sellers")
    follow(page.get_by_role("link", name=verified))
    assert page.get_by_role("heading", level=1).inner_text() == f"Seller {verified}"
    assert page.locator("#seller-kyc").inner_text() == "verified"
    assert page.locator("#seller-suspended").inner_text() == "no"
    assert page.locator("#seller-payable").inner_text() == "yes"
    assert page.get_by_role("link", name=f"Wallet of {verified}").count() == 0, "finance's page"
    screenshot(page, "sellers")

    # Forged forms: without the confirmation or reason, without the CSRF token: no change.
    refuses_forged_reason_forms(page, f"{console.url}/sellers/{verified}/suspend")
    assert _suspensions(console, verified) == []

    page.get_by_label("Reason").fill("chargeback ring")
    page.get_by_label("I confirm: suspend this seller").check()
    follow(page.get_by_role("button", name="Suspend"))
    assert page.get_by_role("status").inner_text().startswith("Suspended")
    assert page.locator("#seller-suspended").inner_text() == "yes: chargeback ring"
    assert page.locator("#seller-payable").inner_text() == "no"
    assert page.get_by_role("button", name="Suspend").count() == 0
    (suspended,) = _suspensions(console, verified)
    operator_key = page.locator(".who code").inner_text()
    assert (suspended.reason, suspended.suspended_by) == ("chargeback ring", operator_key)
    answer = stack.http.get(f"/sellers/{verified}").json()
    assert (answer["suspended"], answer["payable"]) == (True, False)

    page.get_by_label("Reason").fill("cleared")
    page.get_by_label("I confirm: lift this seller's suspension").check()
    page.get_by_role("button", name="Reinstate").click()
    assert page.get_by_role("status").inner_text().startswith("Reinstated")
    assert page.locator("#seller-suspended").inner_text() == "no"
    assert page.locator("#seller-payable").inner_text() == "yes"
    reinstated = _suspensions(console, verified)[-1]
    assert isinstance(reinstated, Seller.Reinstated)
    assert reinstated.reinstated_by == operator_key


def test_who_sees_what_of_a_seller(console: Console) -> None:
    stack = console.stack
    mine, other = seller("own"), seller("oth")
    onboard(stack, mine, VERIFIED_ID)
    onboard(stack, other, VERIFIED_ID)

    merchant = console.signed_in(Role.MERCHANT)
    merchant.get_by_role("link", name="Sellers").click()
    merchant.goto(f"{console.url}/sellers/{mine}")
    assert merchant.locator("#seller-kyc").inner_text() == "verified"
    assert merchant.get_by_role("button", name="Suspend").count() == 0, "an operator's action"
    refused = merchant.request.post(
        f"{console.url}/sellers/{mine}/suspend",
        form={"reason": "x", "confirm": "yes"},
        headers={"x-csrf-token": csrf(merchant)},
    )
    assert refused.status == 403
    assert stack.http.get(f"/sellers/{mine}").json()["suspended"] is False

    finance = console.signed_in(Role.FINANCE)
    finance.goto(f"{console.url}/sellers/{mine}")
    finance.get_by_role("link", name=f"Wallet of {mine}").click()
    assert finance.url.endswith(f"/console/wallets?seller={mine}")

    own = console.signed_in(Role.SELLER, seller=mine)
    follow(own.get_by_role("link", name="Sellers"))
    assert own.get_by_role("heading", level=1).inner_text() == f"Seller {mine}"
    assert own.get_by_role("link", name="All sellers").count() == 0
    assert own.get_by_role("link", name=f"Wallet of {mine}").count() == 1
    own.goto(f"{console.url}/sellers/{other}")
    assert own.get_by_role("heading", level=1).inner_text() == "Not found"
    assert own.locator("#seller-kyc").count() == 0, "nothing of another seller"


def test_the_list_pages_by_account_and_refuses_a_bad_filter(console: Console) -> None:
    services = console.stack.services
    prefix = f"pg{uuid.uuid4().hex[:6]}"
    accounts = [f"{prefix}_{n:02d}" for n in range(53)]
    for account in accounts:  # registered without a PSP: their KYC stays unverified
        personal = {"legal_name": account, "contact": {"email": "a@example.com"}, "id_number": "1"}
        services.sellers.register(RegisterSeller(account, "DE", "btok_test1234", personal, "test"))

    page = console.signed_in(Role.FINANCE)
    page.goto(f"{console.url}/sellers?kyc_status=unverified")
    first = page.locator("#sellers tbody th").all_inner_texts()
    assert len(first) == 50
    follow(page.get_by_role("link", name="Next page"))
    assert "(continued)" in page.locator("#sellers caption").inner_text()
    second = page.locator("#sellers tbody th").all_inner_texts()
    seen = [a for a in first + second if a.startswith(prefix)]
    assert seen == accounts, "every one once, in account order"
    assert page.get_by_role("link", name="Next page").count() == 0

    page.goto(f"{console.url}/sellers?kyc_status=bogus")
    assert page.get_by_role("heading", level=1).inner_text() == "That input is not valid"
    assert "kyc_status" in page.content()
    page.goto(f"{console.url}/sellers?after=bad%20id")
    assert page.get_by_role("heading", level=1).inner_text() in {
        "That request is not valid",
        "That input is not valid",
    }
