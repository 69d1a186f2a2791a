"""Audit in the browser, on a stack with an audit key: finance verifies every view and follows
it to "identical" (with JavaScript off: the page reloads itself), sees the seals and checks the chain (OK, then BROKEN once a stored link is
altered), and reads who did what: an operator's replay with its key id. The past overview
counts the dead letters parked at that instant, from the events. Audit is finance's page."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from payments.api.console.audit import PAGE_SIZE
from payments.domain.api_key import Role
from payments.domain.payment_order import Status
from payments.projections.audit.seal import EventLogSeal
from payments.projections.audit.verifications import VerificationStore
from payments.projections.catalog import NAMES
from tests.console.conftest import (
    Console,
    caught_up,
    console_on,
    csrf,
    dead_lettered,
    follow,
    screenshot,
    served,
    sign_in,
    travel,
)
from tests.executor.helpers import place, terminal

AUDIT_KEY = "console-audit-test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def console(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> Iterator[Console]:
    with console_on(
        admin_database_url, tmp_path_factory, browser, PAYMENTS_AUDIT_KEY=AUDIT_KEY
    ) as console:
        yield console


def test_finance_verifies_the_views_and_checks_the_seal(console: Console) -> None:
    stack = console.stack
    [order_id] = place(stack, stack.sandbox.token("success"), ["12.34"])
    stack.settle(lambda: terminal(stack, order_id))
    caught_up(stack)
    sealed = EventLogSeal(stack.services.pool, AUDIT_KEY).seal()
    assert sealed is not None

    page = console.signed_in(Role.FINANCE, javascript=False)  # the page reloads itself anyway
    page.get_by_role("link", name="Audit").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Audit"
    assert page.locator("[data-fact=chain-head]").inner_text() == sealed.chain_head.hex()
    assert page.locator("[data-fact=seals]").inner_text() == "1"
    assert page.locator("[data-fact=events-sealed]").inner_text() == str(sealed.event_count)
    assert page.locator("[data-fact=last-check]").inner_text() == "never checked"

    page.get_by_role("button", name="Verify every view").click()
    state = page.locator("#verification-state")
    assert state.inner_text() in ("queued", "running", "identical")
    expect(state).to_have_text("identical", timeout=90_000)  # the page reloads itself
    verified = page.locator("#verification-results tbody th").all_inner_texts()
    assert sorted(verified) == sorted(NAMES)
    verification_id = page.url.rsplit("/", 1)[1]
    assert stack.http.get(f"/audit/verifications/{verification_id}").json()["state"] == (
        "identical"
    )

    page.get_by_role("link", name="Audit").first.click()
    assert verification_id in page.locator("#verifications tbody").inner_text()
    page.get_by_role("button", name="Check the chain now").click()
    finance_key = page.locator(".who code").inner_text()
    last_check = page.locator("[data-fact=last-check]").inner_text()
    assert f"by {finance_key}: OK, {sealed.event_count} events in 1 seal(s)" in last_check
    screenshot(page, "audit")

    # A stored link altered: the next check names the position where the chain breaks.
    with stack.services.pool.connection() as conn:
        conn.execute(
            "UPDATE audit_chain SET link = %s WHERE position = %s",
            (bytes(32), sealed.to_position),
        )
    try:
        page.get_by_role("button", name="Check the chain now").click()
        broken = page.locator("[data-fact=last-check]").inner_text()
        assert f"BROKEN at position {sealed.to_position}" in broken, broken
    finally:
        with stack.services.pool.connection() as conn:
            conn.execute(
                "UPDATE audit_chain SET link = %s WHERE position = %s",
                (sealed.chain_head, sealed.to_position),
            )

    # Forms without their CSRF token are refused and start or record nothing.
    store = VerificationStore(stack.services.pool)
    before = len(store.recent(100))
    html = {"accept": "text/html"}
    for action in ("verifications", "seal-check"):
        answer = page.request.post(f"{console.url}/audit/{action}", form={}, headers=html)
        assert (answer.status, "CSRF" in answer.text()) == (403, True)
    assert len(store.recent(100)) == before
    page.reload()
    assert "BROKEN" in page.locator("[data-fact=last-check]").inner_text()


def test_a_replay_is_in_the_past_overview_and_in_the_actions_log(console: Console) -> None:
    stack = console.stack
    first = dead_lettered(stack, "3.21")
    time.sleep(1.1)
    between = datetime.now(UTC).replace(microsecond=0)  # after the first parked
    time.sleep(1.1)
    dead_lettered(stack, "6.54")
    caught_up(stack)

    operator = console.signed_in(Role.OPERATOR)
    assert operator.locator("[data-figure=dead-letters]").inner_text() == "2"
    travel(operator, between)
    assert operator.locator("[data-figure=dead-letters]").inner_text() == "1", "parked then"

    operator.goto(f"{console.url}/dead-letters")
    operator.get_by_label(f"Replay {first}").check()
    operator.get_by_label("Reason").first.fill("PSP back up")
    operator.get_by_label("I confirm: send these orders back to the executor").check()
    operator.get_by_role("button", name="Replay orders").click()
    stack.settle(lambda: terminal(stack, first))
    assert stack.order(first).status is Status.SUCCESS
    caught_up(stack)
    operator.goto(console.url)
    assert operator.locator("[data-figure=dead-letters]").inner_text() == "1", "the later one"
    travel(operator, between)
    assert operator.locator("[data-figure=dead-letters]").inner_text() == "1", "still, then"
    operator_key = operator.locator(".who code").inner_text()

    finance = console.signed_in(Role.FINANCE)
    assert finance.get_by_role("heading", name="Projections").count() == 1
    travel(finance, between)
    assert finance.locator("[data-figure=payouts-due]").count() == 1, "replayed from the ledger"
    assert finance.locator("[data-figure=open-exceptions]").inner_text() == "0", "no run then"
    assert finance.get_by_role("heading", name="Projections").count() == 0, "lag: now only"
    finance.goto(f"{console.url}/audit")
    finance.get_by_label("Key id").fill(operator_key)
    finance.get_by_label("Action", exact=True).select_option("order.replayed")
    follow(finance.get_by_role("button", name="Filter"))
    rows = finance.locator("#audit-actions tbody tr")
    assert rows.count() == 1
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[2:] == [operator_key, "order.replayed", first, "PSP back up"]

    finance.get_by_label("Key id").fill(finance.locator(".who code").inner_text())
    finance.get_by_role("button", name="Filter").click()
    assert rows.first.inner_text() == "No actions match."
    bad = finance.request.get(
        f"{console.url}/audit?actor=NOT-A-KEY", headers={"accept": "text/html"}
    )
    assert (bad.status, "actor" in bad.text()) == (422, True)


@pytest.mark.parametrize("role", [Role.MERCHANT, Role.OPERATOR, Role.SELLER])
def test_audit_is_finances_page(console: Console, role: Role) -> None:
    page = console.signed_in(role, seller="seller_0" if role is Role.SELLER else None)
    assert "Audit" not in page.locator("nav a").all_inner_texts()
    page.goto(f"{console.url}/audit")
    assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"
    store = VerificationStore(console.stack.services.pool)
    before = len(store.recent(100))
    answer = page.request.post(
        f"{console.url}/audit/verifications", form={}, headers={"x-csrf-token": csrf(page)}
    )
    assert answer.status == 403
    assert len(store.recent(100)) == before


def test_the_actions_log_pages_by_position_keeping_its_filter(console: Console) -> None:
    for _ in range(PAGE_SIZE + 1):
        console.key(Role.MERCHANT)  # each one an api_key.created by `cli`
    page = console.signed_in(Role.FINANCE)
    page.goto(f"{console.url}/audit?action=api_key.created")
    rows = page.locator("#audit-actions tbody tr")
    first = [int(p) for p in rows.locator("td:first-child").all_inner_texts()]
    assert len(first) == PAGE_SIZE
    assert first == sorted(first)
    follow(page.get_by_role("link", name="Next page"))
    assert "(continued)" in page.locator("#audit-actions caption").inner_text()
    second = [int(p) for p in rows.locator("td:first-child").all_inner_texts()]
    assert second
    assert min(second) > max(first)
    assert set(rows.locator("td:nth-child(4)").all_inner_texts()) == {"api_key.created"}
    listed = stack_actions(console, "api_key.created")
    assert first + second == listed[: len(first) + len(second)]


def stack_actions(console: Console, action: str) -> list[int]:
    """The positions GET /audit/actions lists for one kind of action, every page."""
    positions: list[int] = []
    after: int | None = 0
    while after is not None:
        answer = console.stack.http.get(
            "/audit/actions", params={"action": action, "after": after, "limit": 200}
        ).json()
        positions += [a["position"] for a in answer["actions"]]
        after = answer["next_after"]
    return positions


def test_without_an_audit_key_the_page_says_nothing_is_sealed(console: Console) -> None:
    services = console.stack.services
    keyless = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, audit_key=None)
    )
    with served(keyless) as url:
        page = console.page()
        sign_in(page, url, console.key(Role.FINANCE))
        page.goto(f"{url}/audit")
        seals = page.locator("#seals").inner_text()
        assert "PAYMENTS_AUDIT_KEY is not set" in seals
        assert page.get_by_role("button", name="Check the chain now").count() == 0
        forged = page.request.post(
            f"{url}/audit/seal-check",
            form={},
            headers={"x-csrf-token": csrf(page), "accept": "text/html"},
        )
        assert (forged.status, "PAYMENTS_AUDIT_KEY" in forged.text()) == (409, True)
