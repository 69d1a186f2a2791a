"""Payouts in the browser: finance lists real payouts newest first, filters them by seller and
state, pages on, and opens one; a seller key sees its own payouts only; a merchant is not
offered the page. GET /payouts, the JSON list both share, answers the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from payments.api.console import payouts as payouts_page
from payments.domain.api_key import Role
from payments.domain.payout import PayoutStatus
from payments.projections.audit.verify import verify_projection
from payments.projections.source import ApplicationEventSource
from payments.projections.views.payouts import PayoutsView
from tests.console.conftest import Console, follow, kept_out, screenshot
from tests.executor.conftest import Stack, running_stack
from tests.payouts.helpers import credit, post_payout, seller, settle_payout


def paid_out(stack: Stack, seller_account: str, amounts: list[str]) -> list[str]:
    """Credit the seller, pay each amount out until PAID; the payout ids, oldest first."""
    credit(stack, seller_account, ["50.00"])
    ids = []
    for amount in amounts:
        answer = post_payout(stack, seller_account, amount)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["payout_id"])
        settle_payout(stack, ids[-1], PayoutStatus.PAID)
    view = PayoutsView(stack.services.pool)
    head = stack.services.application.recorder.max_notification_id() or 0
    stack.settle(lambda: view.position() >= head)
    return ids


def listed(page: Any) -> list[str]:
    return [a.inner_text() for a in page.locator("#payouts tbody th a").all()]


@pytest.fixture(scope="module")
def console(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> Iterator[Console]:
    """The console's stack with funds available at once (no settlement file needed to pay
    out), as tests/payouts/ runs it."""
    with running_stack(
        admin_database_url, tmp_path_factory, PAYMENTS_AVAILABLE_AFTER_DAYS="0"
    ) as stack:
        yield Console(stack, browser)


@pytest.fixture(scope="module")
def sellers(console: Console) -> dict[str, list[str]]:
    first, second = seller("pa"), seller("pb")
    return {
        first: paid_out(console.stack, first, ["1.00", "2.00", "3.00"]),
        second: paid_out(console.stack, second, ["4.00"]),
    }


def test_finance_lists_filters_pages_and_opens_payouts(
    console: Console, sellers: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    [first, second] = sellers
    page = console.signed_in(Role.FINANCE)
    page.get_by_role("link", name="Payouts").click()
    shown = listed(page)
    assert shown[:4] == [sellers[second][0], *reversed(sellers[first])], "newest first"
    screenshot(page, "payouts")

    monkeypatch.setattr(payouts_page, "PAGE_SIZE", 2)
    page.get_by_label("Seller account").fill(first)
    page.get_by_label("Status").select_option("PAID")
    page.get_by_role("button", name="Filter").click()
    assert listed(page) == [sellers[first][2], sellers[first][1]]
    follow(page.get_by_role("link", name="Next page"))
    assert listed(page) == [sellers[first][0]], "the next page goes on where the first ended"
    assert page.get_by_role("link", name="Next page").count() == 0
    page.get_by_label("Status").select_option("FAILED")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("#payouts tbody").inner_text() == "No payouts match."

    page.goto(f"{console.url}/payouts/{sellers[first][1]}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Payout {sellers[first][1]}"
    assert page.locator("#payout-status").inner_text() == "PAID"
    assert page.locator("#payout-amount").inner_text() == "2.00 USD"
    for bad in ("status=LOST", "cursor=%C2%B2", "cursor=9999999999999999999"):
        answer = page.goto(f"{console.url}/payouts?{bad}")
        assert answer is not None
        assert answer.status == 422, bad


def test_a_seller_sees_its_own_payouts_only(
    console: Console, sellers: dict[str, list[str]]
) -> None:
    [first, second] = sellers
    page = console.signed_in(Role.SELLER, seller=second)
    follow(page.get_by_role("link", name="Payouts"))
    assert page.get_by_label("Seller account").count() == 0, "no seller filter for a seller"
    assert listed(page) == sellers[second]
    page.get_by_role("link", name=sellers[second][0]).click()
    assert page.locator("#payout-status").inner_text() == "PAID"
    page.goto(f"{console.url}/payouts/{sellers[first][0]}")
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    page.goto(f"{console.url}/payouts?seller={first}")
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"

    merchant = console.signed_in(Role.MERCHANT)
    kept_out(merchant, console.url, "Payouts", "/payouts")


def test_the_json_list_shares_the_query_and_the_scope(
    console: Console, sellers: dict[str, list[str]]
) -> None:
    stack = console.stack
    [first, second] = sellers
    answer = stack.http.get("/payouts", params={"seller_account": first, "limit": 2})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [p["payout_id"] for p in body["items"]] == [sellers[first][2], sellers[first][1]]
    assert body["items"][0]["status"] == "PAID"
    more = stack.http.get(
        "/payouts", params={"seller_account": first, "limit": 2, "cursor": body["next_cursor"]}
    ).json()
    assert ([p["payout_id"] for p in more["items"]], more["next_cursor"]) == (
        [sellers[first][0]],
        None,
    )
    assert stack.http.get("/payouts", params={"cursor": "nope"}).status_code == 422
    assert stack.http.get("/payouts", params={"status": "LOST"}).status_code == 422

    key = console.key(Role.SELLER, second)
    as_seller = {"authorization": f"Bearer {key}"}
    own = stack.http.get("/payouts", headers=as_seller).json()
    assert [p["payout_id"] for p in own["items"]] == sellers[second]
    other = stack.http.get("/payouts", params={"seller_account": first}, headers=as_seller)
    assert other.status_code == 404
    merchant = {"authorization": f"Bearer {console.key(Role.MERCHANT)}"}
    assert stack.http.get("/payouts", headers=merchant).status_code == 403


def test_the_payouts_view_verifies_against_history(
    console: Console, sellers: dict[str, list[str]]
) -> None:
    stack = console.stack
    source = ApplicationEventSource(stack.services.application)
    result = verify_projection(stack.services.pool, source, PayoutsView.name)
    assert result.identical, result
    assert result.rows_compared >= sum(len(ids) for ids in sellers.values())
