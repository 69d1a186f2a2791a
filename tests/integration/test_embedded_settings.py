"""The embedded PostgreSQL's settings (docs/operations.md, The embedded server): the suite's
own server starts through embedded_server, as `payments serve` does."""

from __future__ import annotations

import os

import psycopg
import pytest

from payments.runtime.database import EMBEDDED_MAX_CONNECTIONS, embedded_tuning


def test_the_embedded_server_runs_with_its_write_settings(admin_database_url: str) -> None:
    if os.environ.get("PAYMENTS_DATABASE_URL"):
        pytest.skip("PAYMENTS_DATABASE_URL names the operator's server: its settings are theirs")
    wanted = {**embedded_tuning(), "max_connections": str(EMBEDDED_MAX_CONNECTIONS)}
    with psycopg.connect(admin_database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT name, sourcefile LIKE '%%postgresql.auto.conf' FROM pg_settings"
            " WHERE name = ANY(%s)",
            (list(wanted),),
        ).fetchall()
        shown = {
            name: conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
            for name in ("max_wal_size", "checkpoint_timeout", "max_connections")
        }
    assert dict(rows) == dict.fromkeys(wanted, True)  # ALTER SYSTEM's file
    assert shown == {
        "max_wal_size": ("8GB",),
        "checkpoint_timeout": ("15min",),
        "max_connections": ("500",),
    }
