"""API keys: issue, check, revoke, rotate; what the views list; the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.api_key import ApiKey, Role
from payments.domain.api_key_commands import ApiKeyCommands
from payments.domain.application import CheckoutPolicy, PaymentsApplication
from payments.domain.errors import IllegalTransition, InvalidCommand
from payments.runtime.config import Settings
from payments.runtime.keys import KeyRing, new_key, parse_key, visible_prefix
from payments.runtime.services import build_services


def memory_ring(now: datetime | None = None) -> tuple[ApiKeyCommands, KeyRing]:
    commands = ApiKeyCommands(PaymentsApplication(CheckoutPolicy("USD", 10**9)))
    ring = KeyRing(commands, live=False, clock=lambda: now or datetime.now(UTC))
    return commands, ring


def test_a_key_reads_prefix_id_secret_and_only_its_hash_is_kept() -> None:
    key = new_key(live=False)
    assert key.text.startswith(f"pk_test_{key.key_id}_")
    parsed = parse_key(key.text)
    assert parsed is not None
    assert len(parsed[2]) == 43  # 32 random bytes
    assert key.text not in key.secret_hash
    assert parsed[2] not in key.secret_hash
    assert visible_prefix(key.text) == f"pk_test_{key.key_id}"
    assert new_key(live=True).text.startswith("pk_live_")
    assert new_key(live=False).key_id != key.key_id


def test_the_ring_knows_a_valid_key_and_nothing_else() -> None:
    commands, ring = memory_ring()
    key = new_key(live=False)
    commands.issue(key.key_id, key.secret_hash, Role.FINANCE, None, "books", "cli")
    caller = ring.caller(key.text)
    assert caller is not None
    assert (caller.key_id, caller.role, caller.seller_account) == (key.key_id, Role.FINANCE, None)
    wrong_secret = key.text[:-4] + ("AAAA" if not key.text.endswith("AAAA") else "BBBB")
    live_twin = key.text.replace("pk_test_", "pk_live_")
    for presented in (wrong_secret, live_twin, "pk_test_", "Bearer x", "", new_key(False).text):
        assert ring.caller(presented) is None, presented


def test_the_event_loop_answers_from_the_cache_and_defers_only_a_read() -> None:
    """cached_caller never reads the store: a key not cached (or stale) is left to caller()."""
    commands, ring = memory_ring()
    key = new_key(live=False)
    commands.issue(key.key_id, key.secret_hash, Role.MERCHANT, None, "shop", "cli")
    assert ring.cached_caller(key.text) == (False, None)  # not read yet
    assert ring.cached_caller("Bearer x") == (True, None)  # malformed: no read needed
    assert ring.cached_caller(key.text.replace("pk_test_", "pk_live_")) == (True, None)
    caller = ring.caller(key.text)
    assert caller is not None
    assert ring.cached_caller(key.text) == (True, caller)
    wrong_secret = key.text[:-4] + ("AAAA" if not key.text.endswith("AAAA") else "BBBB")
    assert ring.cached_caller(wrong_secret) == (True, None)  # the cached hash refuses it
    commands.revoke(key.key_id, by="cli", reason="leaked")
    ring.forget(key.key_id)
    assert ring.cached_caller(key.text) == (False, None)  # forgotten: read again
    assert ring.caller(key.text) is None
    assert ring.cached_caller(key.text) == (True, None)  # the revocation is cached too


def test_a_revoked_key_stops_working_and_cannot_be_revoked_twice() -> None:
    commands, ring = memory_ring()
    key = new_key(live=False)
    commands.issue(key.key_id, key.secret_hash, Role.OPERATOR, None, "", "cli")
    assert ring.caller(key.text) is not None
    commands.revoke(key.key_id, by="cli", reason="leaked")
    ring.forget(key.key_id)
    assert ring.caller(key.text) is None
    with pytest.raises(IllegalTransition):
        commands.revoke(key.key_id, by="cli", reason="again")


def test_a_rotated_key_works_through_its_grace_period_then_not() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    commands, _ = memory_ring()
    old, new = new_key(live=False), new_key(live=False)
    commands.issue(old.key_id, old.secret_hash, Role.SELLER, "s1", "shop", "cli")
    issued, _ = commands.rotate(old.key_id, new.key_id, new.secret_hash, timedelta(hours=1),
                                start, "adminkey")  # fmt: skip
    assert (issued.role, issued.seller_account, issued.name) == (Role.SELLER, "s1", "shop")
    during = KeyRing(commands, live=False, clock=lambda: start + timedelta(minutes=59))
    after = KeyRing(commands, live=False, clock=lambda: start + timedelta(minutes=61))
    assert during.caller(old.text) is not None
    assert during.caller(new.text) is not None
    assert after.caller(old.text) is None
    assert after.caller(new.text) is not None
    with pytest.raises(IllegalTransition):
        commands.rotate(old.key_id, "x" * 12, "0" * 64, timedelta(0), start, "adminkey")
    with pytest.raises(InvalidCommand):
        commands.rotate(new.key_id, "y" * 12, "0" * 64, timedelta(days=31), start, "adminkey")


@pytest.mark.parametrize(
    ("role", "seller", "name"),
    [(Role.SELLER, None, ""), (Role.MERCHANT, "s1", ""), (Role.ADMIN, None, "x" * 101),
     (Role.ADMIN, None, "tab\there")],
)  # fmt: skip
def test_a_key_is_refused_for_a_missing_or_stray_seller_or_a_bad_name(
    role: Role, seller: str | None, name: str
) -> None:
    with pytest.raises(InvalidCommand):
        ApiKey.issue("k" * 12, role, seller, name, "0" * 64, "cli")


def test_keys_and_who_did_what_are_listed_from_the_views(fresh_database_url: str) -> None:
    settings = Settings.from_env({"PAYMENTS_DATABASE_URL": fresh_database_url})
    services = build_services(settings, fresh_database_url)
    try:
        admin, _ = services.issue_key(Role.ADMIN, None, "root", by="cli")
        seller, _ = services.issue_key(Role.SELLER, "s9", "shop", by=admin.key_id)
        services.key_commands.revoke(seller.key_id, by=admin.key_id, reason="left")
        rows = {row.key_id: row for row in services.key_list()}
        assert set(rows) == {admin.key_id, seller.key_id}
        assert rows[seller.key_id].seller_account == "s9"
        assert rows[seller.key_id].revoked_at is not None
        assert rows[admin.key_id].state == "active"
        assert "secret" not in json.dumps(rows[admin.key_id].as_json()).lower()
        from payments.projections.views.access import AuditActionsView
        from tests.security.helpers import catch_up

        view = AuditActionsView(services.pool)
        catch_up(services, view)
        actions = [
            (a.actor, a.action, a.subject) for a in view.actions(actor=None, after=0, limit=50)
        ]
        assert actions == [
            ("cli", "api_key.created", admin.key_id),
            (admin.key_id, "api_key.created", seller.key_id),
            (admin.key_id, "api_key.revoked", seller.key_id),
        ]
    finally:
        services.close()


def test_the_command_line_creates_lists_rotates_and_revokes_keys(
    fresh_database_url: str, tmp_path: object
) -> None:
    env = {**os.environ, "PAYMENTS_DATABASE_URL": fresh_database_url,
           "PAYMENTS_DATA_DIR": str(tmp_path), "PAYMENTS_LOG_LEVEL": "WARNING"}  # fmt: skip

    def payments(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "payments.cli.main", *args],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return done.stdout

    created = json.loads(
        payments("keys", "create", "--role", "finance", "--name", "books", "--json")
    )
    assert set(created) == {"key", "id", "role"}
    assert created["role"] == "finance"
    assert created["key"].startswith(f"pk_test_{created['id']}_")
    listed = json.loads(payments("keys", "list", "--json"))
    assert [k["id"] for k in listed] == [created["id"]]
    assert created["key"] not in json.dumps(listed)
    rotated = json.loads(payments("keys", "rotate", created["id"], "--grace", "0s", "--json"))
    assert rotated["role"] == "finance"
    assert rotated["id"] != created["id"]
    payments("keys", "revoke", rotated["id"])
    states = {k["id"]: k for k in json.loads(payments("keys", "list", "--json"))}
    assert states[created["id"]]["replaced_by"] == rotated["id"]
    assert states[rotated["id"]]["revoked_at"] is not None
    refused = subprocess.run(
        [sys.executable, "-m", "payments.cli.main", "keys", "create", "--role", "seller"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "seller_account" in refused.stderr
