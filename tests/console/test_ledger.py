"""The ledger in the browser: finance sees the trial balance sum to zero after real payments
and opens a seller's statement (paged, with its running balance); before the payments the
accounts are absent; a seller key reads its own accounts only; a merchant is not offered it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from payments.api.console import ledger
from payments.domain.api_key import Role
from payments.domain.money import format_minor
from payments.projections.catalog import LiveViews
from payments.projections.views.postings import seller_pending_account
from tests.console.conftest import Console, follow, kept_out, screenshot
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal


def ledger_caught_up(stack: Stack) -> None:
    head = stack.services.application.recorder.max_notification_id() or 0
    view = LiveViews.on(stack.services.pool).ledger
    stack.settle(lambda: view.position() >= head)


def accounts_shown(page: Any) -> list[str]:
    return [a.inner_text() for a in page.locator("#trial-balance tbody th a").all()]


def test_finance_sees_the_trial_balance_and_a_statement_now_and_before(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = console.stack
    time.sleep(1.1)  # the form's instants are whole seconds
    before = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1.1)
    orders = [
        place(stack, stack.sandbox.token("success"), [a])[0] for a in ("1.10", "2.20", "3.30")
    ]
    stack.settle(lambda: terminal(stack, *orders))
    ledger_caught_up(stack)
    account = seller_pending_account("seller_0")
    balance = LiveViews.on(stack.services.pool).ledger.balance(account)
    assert balance is not None
    assert balance.entry_count >= 3

    page = console.signed_in(Role.FINANCE)
    page.get_by_role("link", name="Ledger").click()
    assert page.locator("#trial-total").inner_text() == "0.00"
    assert page.locator("#trial-verdict").inner_text().startswith("Sums to zero")
    assert {"psp_receivable", account} <= set(accounts_shown(page))
    screenshot(page, "ledger")

    monkeypatch.setattr(ledger, "STATEMENT_SIZE", 2)  # three entries: two pages
    follow(page.get_by_role("link", name=account))
    assert page.get_by_role("heading", level=1).inner_text() == f"Account {account}"
    shown = format_minor(balance.balance_minor, balance.currency)
    assert page.locator("#account-balance").inner_text() == f"{shown} USD"
    first = page.locator("#statement [data-running]").all_inner_texts()
    assert len(first) == 2
    follow(page.get_by_role("link", name="Next page"))
    assert first[-1] in page.locator("#statement caption").inner_text(), "brought forward"
    while page.get_by_role("link", name="Next page").count():
        follow(page.get_by_role("link", name="Next page"))
    last = page.locator("#statement [data-running]").all_inner_texts()[-1]
    assert last == shown, "the running balance ends at the account's balance"
    page.locator("#statement tbody").get_by_role("link", name=orders[2]).click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Order {orders[2]}"

    page.goto(f"{console.url}/ledger")
    page.get_by_label("Show as of (UTC)").fill(before.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Travel").click()
    assert page.get_by_role("status").inner_text().startswith("Past view")
    assert account not in accounts_shown(page), "before the payments: no such account"
    assert page.locator("#trial-total").inner_text() == "0.00"
    page.get_by_label("Account", exact=True).fill(account)
    page.get_by_role("button", name="Show statement").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"


def test_a_seller_reads_its_own_accounts_only(console: Console) -> None:
    stack = console.stack
    [first, second] = place(stack, stack.sandbox.token("success"), ["3.00", "4.00"])
    stack.settle(lambda: terminal(stack, first, second))
    ledger_caught_up(stack)

    seller = console.signed_in(Role.SELLER, seller="seller_1")
    follow(seller.get_by_role("link", name="Ledger"))
    assert seller.locator("#trial-total").count() == 0, "no trial balance for a seller"
    assert seller.get_by_label("Account", exact=True).count() == 0
    own = seller_pending_account("seller_1")
    assert own in accounts_shown(seller)
    assert all(a.startswith("seller:seller_1") for a in accounts_shown(seller))
    follow(seller.get_by_role("link", name=own))
    assert seller.locator("#statement tbody tr").count() >= 1
    assert seller.locator("#statement tbody a").count() == 0, "orders are not a seller's pages"
    for other in (seller_pending_account("seller_0"), "psp_receivable"):
        seller.goto(f"{console.url}/ledger/accounts/{other}")
        assert seller.get_by_role("heading", level=1).inner_text() == "Not found"

    merchant = console.signed_in(Role.MERCHANT)
    kept_out(merchant, console.url, "Ledger", "/ledger")
    merchant.goto(f"{console.url}/ledger/accounts/psp_receivable")
    assert merchant.get_by_role("heading", level=1).inner_text() == "Not allowed"


def test_a_bad_account_or_cursor_is_an_error_page(console: Console) -> None:
    page = console.signed_in(Role.FINANCE)
    answer = page.goto(f"{console.url}/ledger/accounts/psp_receivable?cursor=%21%21")
    assert answer is not None
    assert answer.status == 422
    assert page.get_by_role("heading", level=1).inner_text() == "That input is not valid"
    answer = page.goto(f"{console.url}/ledger/accounts/NOT%20AN%20ACCOUNT")
    assert answer is not None
    assert answer.status == 400
