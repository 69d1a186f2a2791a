"""The overview counts what happened today, from the same views the JSON API reads."""

from __future__ import annotations

from payments.domain.api_key import Role
from tests.console.conftest import Console, caught_up, screenshot
from tests.executor.helpers import place, terminal


def test_the_overview_counts_todays_checkouts_and_orders(console: Console) -> None:
    stack = console.stack
    page = console.signed_in(Role.ADMIN)
    before = int(page.locator("[data-figure=checkouts]").inner_text())
    paid = place(stack, stack.sandbox.token("success"), ["12.50", "7.50"])
    declined = place(stack, stack.sandbox.token("declined"), ["3.00"])
    stack.settle(lambda: terminal(stack, *paid, *declined))
    caught_up(stack)

    page.reload()
    assert int(page.locator("[data-figure=checkouts]").inner_text()) == before + 2
    assert int(page.locator("td[data-status=SUCCESS]").inner_text()) >= 2
    assert int(page.locator("td[data-status=FAILED]").inner_text()) >= 1
    assert page.locator("[data-figure=success-rate]").inner_text().endswith("%")
    chart = page.get_by_role("img", name="Orders by status")
    assert chart.count() == 1
    assert "SUCCESS" in chart.locator("title").first.text_content()
    assert chart.locator("rect").count() == 4
    assert page.get_by_role("row", name="order_status").is_visible()
    screenshot(page, "overview")
