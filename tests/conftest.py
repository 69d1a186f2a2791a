"""Shared fixtures: a real PostgreSQL for the session (PAYMENTS_DATABASE_URL or embedded)."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from hypothesis import settings
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from payments.runtime.config import Settings
from payments.runtime.database import EMBEDDED_MAX_CONNECTIONS, embedded_server
from payments.runtime.services import Services, build_services

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.testing import TestClient

# The suite runs where most of its users are: away from UTC. UTC+14 puts the machine, the
# embedded PostgreSQL (initdb takes its zone) and every process the tests start on another
# date than UTC for most of the day; a session that is not in UTC (runtime/database.py,
# sessions_in_utc) then answers timestamps and seals that differ. TZ=UTC chooses otherwise.
os.environ.setdefault("TZ", "Pacific/Kiritimati")
time.tzset()

# No property test is timed: Hypothesis's default 200 ms deadline per example failed a
# settlement round trip once on a loaded 2-core machine, and a test never gates on
# wall-clock time (performance is measured in bench/).
settings.register_profile("payments", deadline=None)
settings.load_profile("payments")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many workers `-n auto` (pyproject's addopts) starts: xdist's own count, one per
    core, each with an embedded PostgreSQL of its own; none (the tests run in this process)
    against a server named by PAYMENTS_DATABASE_URL, whose max_connections the suite cannot
    raise (two workers took more than the 100 of a default server). PYTEST_XDIST_AUTO_NUM_WORKERS
    still decides when set."""
    if os.environ.get("PAYMENTS_DATABASE_URL") and not os.environ.get(
        "PYTEST_XDIST_AUTO_NUM_WORKERS"
    ):
        return 0
    return None


def _create_database(admin_url: str) -> str:
    name = f"payments_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(admin_url, dbname=name)


def _drop_database(admin_url: str, url: str) -> None:
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def admin_database_url() -> Iterator[str]:
    """A server to create test databases on: PAYMENTS_DATABASE_URL, else an embedded one."""
    configured = os.environ.get("PAYMENTS_DATABASE_URL")
    if configured:
        yield configured
        return
    # World-traversable parent: as root the embedded server runs as user 'pgserver'.
    parent = Path(tempfile.mkdtemp(prefix="payments-pg-"))
    parent.chmod(0o755)
    # The suite keeps a few services (pools) open per module and starts real processes.
    server = embedded_server(parent / "pg", "delete", EMBEDDED_MAX_CONNECTIONS)
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def new_database(admin_url: str) -> Iterator[str]:
    """A database of its own on the server, dropped (its connections closed) afterwards."""
    url = _create_database(admin_url)
    try:
        yield url
    finally:
        _drop_database(admin_url, url)


@contextmanager
def services_on(url: str, **env: str) -> Iterator[Services]:
    """Services on the database at `url`, closed afterwards; `env`: more PAYMENTS_* settings."""
    services = build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url, **env}), url)
    try:
        yield services
    finally:
        services.close()


@contextmanager
def services_on_new_database(admin_url: str, **env: str) -> Iterator[Services]:
    """Services on a database of their own; `env`: more PAYMENTS_* settings."""
    with new_database(admin_url) as url, services_on(url, **env) as services:
        yield services


@pytest.fixture(scope="session")
def database_url(admin_database_url: str) -> Iterator[str]:
    """A fresh database for this test session, dropped at the end."""
    with new_database(admin_database_url) as url:
        yield url


@pytest.fixture
def fresh_database_url(admin_database_url: str) -> Iterator[str]:
    """A database of its own for a test that must see an empty store."""
    with new_database(admin_database_url) as url:
        yield url


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


# Tests send many bad requests on purpose; rate limits have tests of their own.
NO_RATE_LIMITS = {
    "PAYMENTS_RATE_LIMIT_FAILED_AUTH": "1000000/second",
    "PAYMENTS_RATE_LIMIT_PER_KEY": "1000000/second",
}


def bearer(services: Any, role: str = "admin", seller: str | None = None) -> dict[str, str]:
    """The Authorization header of a new API key with this role (made as `payments keys
    create` makes one)."""
    from payments.domain.api_key import Role

    key, _ = services.issue_key(Role(role), seller, f"tests {role}", by="cli")
    return {"Authorization": f"Bearer {key.text}"}


@contextmanager
def api_client(services: Services, role: str = "admin") -> Iterator[TestClient[Litestar]]:
    """A test client of the app on `services` with a new key of this role; a server error is
    answered (500), not raised."""
    from litestar.testing import TestClient

    from payments.api.app import create_app

    with TestClient(app=create_app(services), raise_server_exceptions=False) as client:
        client.headers.update(bearer(services, role))
        yield client
