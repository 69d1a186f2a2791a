"""Dead letters in the browser: what is parked, a replay of the ticked ones and of all of a
kind, each confirmed; the page and its action are an operator's only."""

from __future__ import annotations

from payments.domain.api_key import Role
from payments.domain.payment_order import Status
from tests.console.conftest import Console, caught_up, csrf, follow, kept_out, screenshot
from tests.executor.helpers import place, terminal


def test_replay_the_ticked_dead_letter_then_all_of_them(console: Console) -> None:
    stack = console.stack
    stack.sandbox.fault(kind="status", status=500, count=1000, endpoint="charges")
    try:
        first, second = place(stack, stack.sandbox.token("success"), ["4.56", "7.89"])
        stack.settle(lambda: stack.order(first).dead_lettered and stack.order(second).dead_lettered)
    finally:
        stack.sandbox.clear_faults()
    caught_up(stack)

    page = console.signed_in(Role.OPERATOR)
    follow(page.get_by_role("link", name="Dead letters"))
    assert page.get_by_role("heading", level=1).inner_text() == "Dead letters"
    rows = page.locator("#dead-orders tbody tr")
    assert rows.count() == 2
    assert "4.56" not in rows.first.inner_text(), "an id and its error, no amounts or cards"
    screenshot(page, "dead-letters")

    # A forged form without the confirmation: refused, nothing replayed.
    refused = page.request.post(
        f"{console.url}/dead-letters/orders/replay",
        form={"reference": first},
        headers={"x-csrf-token": csrf(page), "accept": "text/html"},
    )
    assert refused.status == 422
    unknown = page.request.post(
        f"{console.url}/dead-letters/orders/replay",
        form={"reference": "po_not_parked", "confirm": "yes"},
        headers={"x-csrf-token": csrf(page), "accept": "text/html"},
    )
    assert unknown.status == 422
    assert "not dead-lettered" in unknown.text()
    assert stack.order(first).dead_lettered
    assert stack.sandbox.charges(first) == 0

    page.get_by_label(f"Replay {first}").check()
    page.get_by_label("I confirm: send these orders back to the executor").check()
    page.get_by_role("button", name="Replay orders").click()
    assert page.get_by_role("status").inner_text().startswith("Replayed 1 order(s)")
    stack.settle(lambda: terminal(stack, first))
    assert stack.order(first).status is Status.SUCCESS
    assert stack.order(second).dead_lettered, "only the ticked one went back"

    page.goto(f"{console.url}/dead-letters")
    page.get_by_label("All 1 of them, not only the ticked ones").check()
    page.get_by_label("I confirm: send these orders back to the executor").check()
    page.get_by_role("button", name="Replay orders").click()
    assert page.get_by_role("status").inner_text().startswith("Replayed 1 order(s)")
    stack.settle(lambda: terminal(stack, second))
    assert stack.order(second).status is Status.SUCCESS
    assert [stack.sandbox.charges(first), stack.sandbox.charges(second)] == [1, 1]


def test_dead_letters_are_an_operators_page(console: Console) -> None:
    finance = console.signed_in(Role.FINANCE)
    kept_out(finance, console.url, "Dead letters", "/dead-letters")
    answer = finance.request.post(
        f"{console.url}/dead-letters/orders/replay",
        form={"every": "yes", "confirm": "yes"},
        headers={"x-csrf-token": csrf(finance)},
    )
    assert answer.status == 403
