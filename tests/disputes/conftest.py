"""A real sandbox PSP (disputes open, are reviewed and expire within seconds), our API on a
real port for its webhooks, the views and an executor: the dispute flows end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from payments.api.app import create_app
from payments.projections.service import ProjectionService
from payments.runtime.config import Settings
from payments.runtime.roles import build_executor
from payments.runtime.services import build_services
from tests.conftest import NO_RATE_LIMITS, _create_database, _drop_database, bearer
from tests.e2e.processes import free_port
from tests.executor.conftest import WEBHOOK_SECRET, Sandbox, Stack

EVIDENCE_WINDOW_S = 3600.0  # how long a dispute awaits evidence (a module may set its own)


def start_sandbox(db: Path, webhook_url: str, evidence_window_s: float) -> Sandbox:
    port = free_port()
    command = [
        sys.executable, "-m", "payments.psp.sandbox", "--db", str(db), "--port", str(port),
        "--webhook-url", webhook_url,
        "--dispute-delay", "0.5", "--dispute-review-delay", "0.3",
        "--evidence-window", str(evidence_window_s),
        "--webhook-retry-base", "0.1", "--webhook-retry-cap", "0.5", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "PSP_SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                return Sandbox(url, process)
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("sandbox did not start")


@pytest.fixture(scope="module")
def stack(
    admin_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Stack]:
    database_url = _create_database(admin_database_url)
    api_port = free_port()
    sandbox = start_sandbox(
        tmp_path_factory.mktemp("sandbox") / "psp.sqlite3",
        f"http://127.0.0.1:{api_port}/webhooks/psp",
        getattr(request.module, "EVIDENCE_WINDOW_S", EVIDENCE_WINDOW_S),
    )
    env = {
        "PAYMENTS_DATABASE_URL": database_url,
        "PAYMENTS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PAYMENTS_PSP_URL": sandbox.url,
        "PAYMENTS_PSP_TIMEOUT_S": "2",
        "PAYMENTS_EXECUTOR_BACKOFF_BASE_S": "0.01",
        "PAYMENTS_EXECUTOR_BACKOFF_CAP_S": "0.05",
        "PAYMENTS_EXECUTOR_LEASE_S": "1",
        "PAYMENTS_REFUND_COMMISSION": "return",
        "PAYMENTS_PORT": str(api_port),
        **NO_RATE_LIMITS,
    }
    services = build_services(Settings.from_env(env), database_url)
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), port=api_port, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    executor = build_executor(services)
    views = ProjectionService(services.application, services.pool, database_url, idle_wait=0.2)
    views.start()
    try:
        api_url = f"http://127.0.0.1:{api_port}"
        http = httpx.Client(base_url=api_url, headers=bearer(services, "admin"), timeout=30)
        yield Stack(services, sandbox, api_url, env, executor, http)
    finally:
        http.close()
        views.stop()
        executor.close()
        server.should_exit = True
        thread.join(10)
        services.close()
        sandbox.process.terminate()
        sandbox.process.wait(10)
        _drop_database(admin_database_url, database_url)
