"""Browser tests of the console: Playwright driving Debian's Chromium against a real stack.

Playwright's own browser download is not available here: the tests launch /usr/bin/chromium
(package `chromium`). Without it they are skipped with a message naming the package, unless
PAYMENTS_REQUIRE_BROWSER=1 (as .ci/run sets it), where a missing browser fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from payments.domain.api_key import Role
from payments.runtime.services import Services
from tests.e2e.processes import free_port
from tests.executor.conftest import Stack, running_stack, serving
from tests.executor.helpers import place

CHROMIUM = Path(os.environ.get("PAYMENTS_CHROMIUM", "/usr/bin/chromium"))
# Set to a directory (docs/console) to save screenshots of the main pages there.
SCREENSHOTS = os.environ.get("PAYMENTS_CONSOLE_SCREENSHOTS")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"no browser at {CHROMIUM}: install Debian's package `chromium` (apt-get install chromium)"
        if os.environ.get("PAYMENTS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@dataclass
class Console:
    stack: Stack
    browser: Any

    @property
    def url(self) -> str:
        return f"{self.stack.api_url}/console"

    def key(self, role: Role, seller: str | None = None) -> str:
        key, _ = self.stack.services.issue_key(role, seller, f"console {role.value}", by="cli")
        return key.text

    def page(self, *, javascript: bool = True) -> Any:
        """A fresh browser context (its own cookies) and a page in it."""
        context = self.browser.new_context(
            base_url=self.stack.api_url, java_script_enabled=javascript
        )
        context.set_default_timeout(15_000)
        return context.new_page()

    def signed_in(
        self,
        role: Role,
        seller: str | None = None,
        base: str | None = None,
        *,
        javascript: bool = True,
    ) -> Any:
        page = self.page(javascript=javascript)
        sign_in(page, base or self.url, self.key(role, seller))
        return page


@contextmanager
def served(services: Services) -> Iterator[str]:
    """The same database served by a second app built from `services` (other settings, say):
    its console's URL."""
    port = free_port()
    server = serving(services, port)
    try:
        yield f"http://127.0.0.1:{port}/console"
    finally:
        server.close()


def caught_up(stack: Stack) -> None:
    """Wait until the order status view has applied every event written so far."""
    from payments.projections.catalog import LiveViews

    head = stack.services.application.recorder.max_notification_id() or 0
    view = LiveViews.on(stack.services.pool).order_status
    stack.settle(lambda: view.position() >= head)


def dead_lettered(stack: Stack, amount: str) -> str:
    """An order of one checkout that every charge attempt fails until it is parked; its id."""
    stack.sandbox.fault(kind="status", status=500, count=1000, endpoint="charges")
    try:
        [order_id] = place(stack, stack.sandbox.token("success"), [amount])
        stack.settle(lambda: stack.order(order_id).dead_lettered)
    finally:
        stack.sandbox.clear_faults()
    return order_id


def follow(target: Any) -> None:
    """Click a link, or a form's button, that loads another page, and wait for that page's
    load event. A bare click returns once the next document is committed: a `count()` read
    then (it does not wait) may see a table the browser is still parsing (88 of 100 rows
    once, on a slow machine)."""
    target.click()
    target.page.wait_for_load_state()


def travel(page: Any, instant: datetime) -> None:
    """Show the page as of a past instant (whole seconds, UTC) through its form."""
    page.get_by_label("Show as of (UTC)").fill(instant.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Travel").click()
    page.wait_for_url("**as_of=**")


def sign_in(page: Any, console_url: str, key: str) -> None:
    page.goto(f"{console_url}/sign-in")
    page.get_by_label("API key").fill(key)
    follow(page.get_by_role("button", name="Sign in"))


def csrf(page: Any) -> str:
    """The CSRF token the console set for this page's browser context (for forged forms)."""
    return {c["name"]: c["value"] for c in page.context.cookies()}["payments_console_csrf"]


def refuses_forged_reason_forms(page: Any, action: str) -> None:
    """A reason-and-confirm form sent without its confirmation or its reason (422), without
    its CSRF token (403), or with U+0000 in its reason (400), is refused: the caller then
    checks that nothing changed."""
    token, html = {"x-csrf-token": csrf(page)}, {"accept": "text/html"}
    unconfirmed = page.request.post(action, form={"reason": "ok"}, headers={**token, **html})
    assert (unconfirmed.status, "tick the box" in unconfirmed.text()) == (422, True)
    no_reason = page.request.post(action, form={"confirm": "yes"}, headers={**token, **html})
    assert (no_reason.status, "reason" in no_reason.text()) == (422, True)
    no_csrf = page.request.post(action, form={"reason": "ok", "confirm": "yes"}, headers=html)
    assert (no_csrf.status, "CSRF" in no_csrf.text()) == (403, True)
    nul = page.request.post(
        action, form={"reason": "ok\x00", "confirm": "yes"}, headers={**token, **html}
    )
    assert (nul.status, "U+0000" in nul.text()) == (400, True)  # no text column holds one


def kept_out(page: Any, console_url: str, link: str, path: str) -> None:
    """The signed-in page's menu has no `link`, and the page at `path` answers Not allowed."""
    assert link not in [a.inner_text() for a in page.locator("nav a").all()]
    page.goto(f"{console_url}{path}")
    assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"


def screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@contextmanager
def console_on(
    admin_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    browser: Any,
    **settings: str,
) -> Iterator[Console]:
    """A console on a stack of its own; `settings` are more PAYMENTS_* variables."""
    with running_stack(admin_database_url, tmp_path_factory, **settings) as stack:
        yield Console(stack, browser)


@pytest.fixture(scope="module")
def console(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> Iterator[Console]:
    with console_on(admin_database_url, tmp_path_factory, browser) as console:
        yield console
