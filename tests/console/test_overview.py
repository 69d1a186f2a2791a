"""The overview counts what happened today, from the same views the JSON API reads."""

from __future__ import annotations

from payments.domain.api_key import Role
from payments.projections.catalog import LiveViews
from tests.console.conftest import Console, screenshot
from tests.executor.helpers import place, terminal


def test_the_overview_counts_todays_checkouts_and_orders(console: Console) -> None:
    stack = console.stack
    page = console.signed_in(Role.ADMIN)
    before = int(page.locator("[data-figure=checkouts]").inner_text())
    paid = place(stack, stack.sandbox.token("success"), ["12.50", "7.50"])
    declined = place(stack, stack.sandbox.token("declined"), ["3.00"])
    stack.settle(lambda: terminal(stack, *paid, *declined))
    head = stack.services.application.recorder.max_notification_id()
    status_view = LiveViews.on(stack.services.pool).order_status
    stack.settle(lambda: status_view.position() >= (head or 0))

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
