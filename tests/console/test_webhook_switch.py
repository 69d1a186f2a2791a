"""An endpoint disabled and enabled again in the browser: a merchant disables it with a
reason, confirmed, and its page then offers Enable instead; enabling, confirmed, makes it
enabled over the API too. An operator is offered neither and is refused when it forges one;
what the API refuses (a blank reason, an enabled endpoint enabled) is refused here too."""

from __future__ import annotations

from payments.domain.api_key import Role
from tests.console.conftest import Console, csrf, follow, screenshot
from tests.console.webhook_stack import console_fixture, register

console = console_fixture()
DISABLE, ENABLE = "Disable the endpoint", "Enable the endpoint"


def status_of(console: Console, endpoint_id: str) -> tuple[str, str | None]:
    shown = console.stack.http.get(f"/webhook-endpoints/{endpoint_id}").json()
    return shown["status"], shown["disabled_reason"]


def test_a_merchant_disables_an_endpoint_then_enables_it_confirmed(console: Console) -> None:
    merchant = {"authorization": f"Bearer {console.key(Role.MERCHANT)}"}
    endpoint_id = register(console, merchant, "payout.paid", "to switch")
    path = f"{console.url}/webhooks/{endpoint_id}"

    operator = console.signed_in(Role.OPERATOR)
    operator.goto(path)
    assert operator.get_by_role("form", name=DISABLE).count() == 0
    for action in ("disable", "enable"):
        forged = operator.request.post(
            f"{path}/{action}", form={"confirm": "yes"}, headers={"x-csrf-token": csrf(operator)}
        )
        assert forged.status == 403, action

    page = console.signed_in(Role.MERCHANT)
    page.goto(path)
    assert page.get_by_role("form", name=ENABLE).count() == 0, "enabled: nothing to enable"
    token, html = {"x-csrf-token": csrf(page)}, {"accept": "text/html"}
    for fields, field in (({"reason": "x" * 501, "confirm": "yes"}, "reason"), ({}, "confirm")):
        refused = page.request.post(f"{path}/disable", form=fields, headers={**token, **html})
        assert (refused.status, field in refused.text()) == (422, True), fields
    early = page.request.post(f"{path}/enable", form={"confirm": "yes"}, headers={**token, **html})
    assert (early.status, "cannot go from enabled" in early.text()) == (409, True)
    assert status_of(console, endpoint_id) == ("enabled", None), "nothing refused applied"

    form = page.get_by_role("form", name=DISABLE)
    form.get_by_label("Reason (optional)").fill("receiver maintenance")
    form.get_by_label("I confirm: deliver nothing more").check()
    follow(form.get_by_role("button", name=DISABLE))
    assert page.get_by_role("status").inner_text().startswith("Disabled")
    assert page.locator("#endpoint-status").inner_text() == "disabled: receiver maintenance"
    assert status_of(console, endpoint_id) == ("disabled", "receiver maintenance")
    assert page.get_by_role("form", name="Move the endpoint").count() == 0
    screenshot(page, "webhook-disabled")

    form = page.get_by_role("form", name=ENABLE)
    form.get_by_label("I confirm: deliver the events recorded from now on").check()
    follow(form.get_by_role("button", name=ENABLE))
    assert page.get_by_role("status").inner_text().startswith("Enabled")
    assert page.locator("#endpoint-status").inner_text() == "enabled"
    assert status_of(console, endpoint_id) == ("enabled", None)
    assert page.get_by_role("form", name=DISABLE).count() == 1


def test_a_disabling_without_a_reason_takes_the_api_s_default(console: Console) -> None:
    merchant = {"authorization": f"Bearer {console.key(Role.MERCHANT)}"}
    endpoint_id = register(console, merchant, "payout.paid", "no reason given")
    page = console.signed_in(Role.MERCHANT)
    page.goto(f"{console.url}/webhooks/{endpoint_id}")
    form = page.get_by_role("form", name=DISABLE)
    form.get_by_label("I confirm: deliver nothing more").check()
    follow(form.get_by_role("button", name=DISABLE))
    assert status_of(console, endpoint_id) == ("disabled", "disabled by the merchant")
