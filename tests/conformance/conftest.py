"""Servers for conformance tests: a `payments serve` (API, executor, projections, scheduler,
sandbox PSP) on a database of its own on the session's PostgreSQL server, and the sandbox PSP
alone, as `python -m payments.psp.sandbox` starts it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conformance.seeding import REVIEW_RULES, served_settings
from tests.conftest import NO_RATE_LIMITS, _create_database, _drop_database
from tests.e2e.processes import Process, clean_env, create_key, free_port
from tests.psp_sandbox.conftest import SandboxProcess


@dataclass(frozen=True)
class Served:
    url: str
    sandbox_url: str
    process: Process
    key: str  # an admin key of this deployment (payments keys create)


@pytest.fixture(scope="session")
def served(admin_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    database_url = _create_database(admin_database_url)
    base = tmp_path_factory.mktemp("conformance")
    os.chmod(base, 0o755)
    port, sandbox_port = free_port(), free_port()
    rules = base / "risk-rules.toml"
    rules.write_text(REVIEW_RULES)
    env = clean_env(
        PAYMENTS_DATABASE_URL=database_url,
        PAYMENTS_DATA_DIR=str(base / "data"),
        PAYMENTS_PORT=str(port),
        PAYMENTS_PSP_SANDBOX_PORT=str(sandbox_port),
        PAYMENTS_LOG_LEVEL="WARNING",
        **served_settings(str(rules)),  # what tests/conformance/seeding.py makes needs
        **NO_RATE_LIMITS,  # schemathesis sends many requests without a key, on purpose
    )
    process = Process(["serve"], env, Path(base) / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(f"{url}/health")
        key = create_key(env, "admin")
        yield Served(url, f"http://127.0.0.1:{sandbox_port}", process, key)
    finally:
        process.interrupt()
        _drop_database(admin_database_url, database_url)


@dataclass(frozen=True)
class ServedSandbox:
    url: str
    api_key: str


SANDBOX_API_KEY = "sk_test_conformance"


@pytest.fixture(scope="session")
def served_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    """`python -m payments.psp.sandbox` on its own, with an API key (so that the auth checks
    see a 401 without it) and no webhook receiver (events stay recorded, undelivered)."""
    base = tmp_path_factory.mktemp("sandbox-conformance")
    sandbox = SandboxProcess(base / "sandbox.sqlite3", None, SANDBOX_API_KEY)
    sandbox.start()
    try:
        yield ServedSandbox(sandbox.base_url, SANDBOX_API_KEY)
    finally:
        sandbox.stop()
