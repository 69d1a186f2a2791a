"""Signing in with a key, the session cookie, sign-out, expiry, CSRF, and role-aware pages."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from payments.domain.api_key import Role
from payments.runtime.keys import parse_key
from tests.console.conftest import Console, served, sign_in


def test_a_key_signs_in_to_a_session_that_holds_no_key(console: Console) -> None:
    key = console.key(Role.OPERATOR)
    page = console.page()
    page.goto(console.url)
    assert page.url.endswith("/console/sign-in"), "no session: the sign-in page"
    sign_in(page, console.url, key)
    assert page.url.endswith("/console")
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    assert key not in page.content()
    assert key not in page.url
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["payments_console"]
    assert session["httpOnly"]
    assert session["sameSite"] == "Strict"
    assert not session["secure"]
    parsed = parse_key(key)
    assert parsed is not None
    assert parsed[2] not in session["value"], "the cookie holds no part of the key's secret"
    assert cookies["payments_console_csrf"]["sameSite"] == "Strict"

    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/console/sign-in")
    page.goto(console.url)
    assert page.url.endswith("/console/sign-in"), "signed out: the session is gone"


def test_a_wrong_or_revoked_key_does_not_sign_in(console: Console) -> None:
    page = console.page()
    sign_in(page, console.url, "pk_test_aaaaaaaaaaaa_" + "b" * 43)
    assert page.get_by_role("alert").inner_text() == "That key is unknown, revoked or expired."
    assert page.url.endswith("/console/sign-in")

    key = console.key(Role.FINANCE)
    sign_in(page, console.url, key)
    assert page.url.endswith("/console")
    key_id = key.split("_")[2]
    console.stack.services.key_commands.revoke(key_id, "cli", "console test")
    console.stack.services.key_ring.forget(key_id)
    page.goto(console.url)
    assert page.url.endswith("/console/sign-in"), "a revoked key ends its sessions"


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    page = console.signed_in(Role.ADMIN)
    answer = page.request.post(f"{console.url}/sign-out", form={"x": "1"})
    assert answer.status == 403
    assert "CSRF" in answer.text()
    page.goto(console.url)
    assert page.url.endswith("/console"), "the refused sign-out changed nothing"
    forged = page.request.post(f"{console.url}/sign-out", form={"_csrf_token": "0" * 128})
    assert forged.status == 403


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (
            Role.MERCHANT,
            ["Checkouts today"],
            ["Dead letters", "Open reconciliation exceptions", "Projections"],
        ),
        (
            Role.OPERATOR,
            ["Checkouts today", "Dead letters", "Projections"],
            ["Open reconciliation exceptions"],
        ),
        (
            Role.FINANCE,
            ["Checkouts today", "Open reconciliation exceptions", "Payouts due"],
            ["Dead letters"],
        ),
        (
            Role.SELLER,
            [],
            ["Checkouts today", "Dead letters", "Open reconciliation exceptions", "Payouts due"],
        ),
        (
            Role.ADMIN,
            ["Checkouts today", "Dead letters", "Open reconciliation exceptions", "Payouts due"],
            [],
        ),
    ],
)
def test_each_role_sees_only_what_it_may(
    console: Console, role: Role, shown: list[str], hidden: list[str]
) -> None:
    page = console.signed_in(role, seller="seller_0" if role is Role.SELLER else None)
    headings = page.get_by_role("heading", level=2).all_inner_texts()
    assert set(shown) <= set(headings)
    assert not set(hidden) & set(headings)
    assert page.get_by_text(f"Signed in: {role.value}").is_visible()


@pytest.fixture(scope="module")
def short_sessions(console: Console) -> Iterator[str]:
    """The same services served by a second app whose sign-ins last 3 seconds."""
    services = console.stack.services
    short = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, console_session_s=3)
    )
    with served(short) as url:
        yield url


def test_an_expired_session_is_refused(console: Console, short_sessions: str) -> None:
    page: Any = console.page()
    sign_in(page, short_sessions, console.key(Role.OPERATOR))
    assert page.url == short_sessions
    time.sleep(3.5)
    page.goto(short_sessions)
    assert page.url == f"{short_sessions}/sign-in"
