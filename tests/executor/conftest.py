"""A real sandbox PSP process, our API on a real port (for its webhooks), and an executor."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from payments.api.app import create_app
from payments.projections.service import ProjectionService
from payments.psp.executor import PaymentExecutor
from payments.runtime.config import Settings
from payments.runtime.roles import build_executor
from payments.runtime.services import Services, build_services
from tests.conftest import NO_RATE_LIMITS, _create_database, _drop_database, bearer
from tests.e2e.processes import free_port

WEBHOOK_SECRET = "whsec_executor_tests"
CARDS = {
    "success": "4242424242424242",
    "declined": "4000000000000002",
    "insufficient": "4000000000009995",
    "processing_error": "4000000000000119",
    "pending": "4000000000003220",
}


@dataclass
class Sandbox:
    url: str
    process: subprocess.Popen[bytes]

    def token(self, card: str) -> str:
        response = httpx.post(
            f"{self.url}/v1/tokens",
            json={"number": CARDS.get(card, card), "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def fault(self, **rule: Any) -> None:
        assert httpx.post(f"{self.url}/admin/faults", json=rule).status_code == 201

    def clear_faults(self) -> None:
        httpx.delete(f"{self.url}/admin/faults")

    @contextmanager
    def faulty(self, **rule: Any) -> Iterator[None]:
        """The sandbox misbehaves by `rule` inside the block; outside it, no fault at all."""
        self.fault(**rule)
        try:
            yield
        finally:
            self.clear_faults()

    def charge_directly(self, reference: str, token: str, amount_minor: int) -> str:
        """A charge for our reference made at the PSP outside the executor; its id."""
        response = httpx.post(
            f"{self.url}/v1/charges",
            json={
                "amount": amount_minor,
                "currency": "USD",
                "token": token,
                "reference": reference,
            },
            headers={"Idempotency-Key": f"stray-{reference}"},
        )
        assert response.status_code in (200, 201), response.text
        return str(response.json()["id"])

    def charges(self, reference: str) -> int:
        answer = httpx.get(f"{self.url}/admin/charges/count", params={"reference": reference})
        return int(answer.json()["charges"])


@dataclass
class Stack:
    services: Services
    sandbox: Sandbox
    api_url: str
    env: dict[str, str]
    executor: PaymentExecutor
    http: httpx.Client  # to api_url, with an admin key

    def order(self, payment_order_id: str) -> Any:
        return self.services.application.get_order(payment_order_id)

    def settle(self, done: Callable[[], bool], timeout: float = 20.0) -> None:
        """Run the executor until done() holds (webhooks arrive on their own)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.executor.run_until_idle()
            if done():
                return
            time.sleep(0.05)
        raise AssertionError("the system did not settle in time")


SANDBOX_OPTIONS = ("--pending-delay", "0.3", "--timeout-fault-seconds", "3")


def start_sandbox(db: Path, webhook_url: str, options: Sequence[str] = SANDBOX_OPTIONS) -> Sandbox:
    port = free_port()
    command = [
        sys.executable, "-m", "payments.psp.sandbox", "--db", str(db), "--port", str(port),
        "--webhook-url", webhook_url, *options,
        "--webhook-retry-base", "0.1", "--webhook-retry-cap", "0.5", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "PSP_SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET}  # never on a command line
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


@dataclass
class Served:
    """An app served by uvicorn on a thread of this process, until closed."""

    server: uvicorn.Server
    thread: threading.Thread

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def serving(services: Services, port: int) -> Served:
    """Serve the API (and console) of `services` on `port`; answers once it listens."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), port=port, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return Served(server, thread)


@contextmanager
def running_stack(
    admin_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_options: Sequence[str] = SANDBOX_OPTIONS,
    **settings: str,
) -> Iterator[Stack]:
    """A whole stack on a fresh database; `settings` are more PAYMENTS_* variables, and
    `sandbox_options` the sandbox's behaviour (delays, windows)."""
    database_url = _create_database(admin_database_url)
    api_port = free_port()
    sandbox = start_sandbox(
        tmp_path_factory.mktemp("sandbox") / "psp.sqlite3",
        f"http://127.0.0.1:{api_port}/webhooks/psp",
        sandbox_options,
    )
    env = {
        "PAYMENTS_DATABASE_URL": database_url,
        "PAYMENTS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PAYMENTS_PSP_URL": sandbox.url,
        "PAYMENTS_EXECUTOR_BACKOFF_BASE_S": "0.01",
        "PAYMENTS_EXECUTOR_BACKOFF_CAP_S": "0.05",
        "PAYMENTS_EXECUTOR_MAX_ATTEMPTS": "4",
        "PAYMENTS_PSP_TIMEOUT_S": "1",
        "PAYMENTS_REQUERY_DELAYS_S": "0.2,0.5,1",
        "PAYMENTS_EXECUTOR_LEASE_S": "1",
        "PAYMENTS_PORT": str(api_port),
        **NO_RATE_LIMITS,
        **settings,
    }
    services = build_services(Settings.from_env(env), database_url)
    server = serving(services, api_port)
    executor = build_executor(services)
    views = ProjectionService(services.application, services.pool, database_url, idle_wait=0.2)
    views.start()  # GET /checkouts/{id} reads the order status view
    try:
        api_url = f"http://127.0.0.1:{api_port}"
        http = httpx.Client(base_url=api_url, headers=bearer(services, "admin"), timeout=30)
        yield Stack(services, sandbox, api_url, env, executor, http)
    finally:
        http.close()
        views.stop()
        executor.close()
        server.close()
        services.close()
        sandbox.process.terminate()
        sandbox.process.wait(10)
        _drop_database(admin_database_url, database_url)


def stack_fixture(**settings: str) -> Any:
    """A module's `stack` fixture: a whole stack with these more PAYMENTS_* `settings`."""

    @pytest.fixture(scope="module")
    def stack(admin_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
        with running_stack(admin_database_url, tmp_path_factory, **settings) as running:
            yield running

    return stack


stack = stack_fixture()
