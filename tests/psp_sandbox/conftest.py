"""Shared fixtures: a real sandbox process on a free port, and a webhook receiver."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import free_port

WEBHOOK_SECRET = "whsec_test"
WEBHOOK_SECRET_ENV = "PSP_SANDBOX_WEBHOOK_SECRET"


@dataclass
class WebhookReceiver:
    """Records every POST; answers `failures_before_success` 500s first."""

    url: str = ""
    failures_before_success: int = 0
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledged(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for h, b, status in self.received if status == 200]

    def events(self) -> list[dict[str, Any]]:
        """The acknowledged events, decoded, in delivery order."""
        return [json.loads(body) for _, body in self.acknowledged()]

    def wait_for_event(self, event_type: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first acknowledged event of this type (waiting for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if event["type"] == event_type:
                    return event
            time.sleep(0.05)
        seen = [event["type"] for event in self.events()]
        raise AssertionError(f"no {event_type} webhook; got {seen}")

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.acknowledged()) >= count:
                return self.acknowledged()
            time.sleep(0.05)
        raise AssertionError(f"expected {count} webhooks, got {len(self.acknowledged())}")


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                status = 500 if receiver.failures_before_success > 0 else 200
                receiver.failures_before_success = max(receiver.failures_before_success - 1, 0)
                receiver.received.append((dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/psp"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class SandboxProcess:
    """`python -m payments.psp.sandbox` on a free port; secrets go in by environment or file."""

    db_path: Path
    webhook_url: str | None
    api_key: str | None = None
    extra_args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def start(self) -> None:
        command = [
            sys.executable, "-m", "payments.psp.sandbox", "--port", str(self.port), "--db",
            str(self.db_path), "--pending-delay", "0.3", "--payout-delay", "0.2",
            "--payout-return-delay", "0.3", "--webhook-retry-base", "0.1", "--webhook-retry-cap",
            "0.3", "--timeout-fault-seconds", "3", "--dispute-delay", "0.3",
            "--dispute-review-delay", "0.2", "--log-level", "warning", *self.extra_args,
        ]  # fmt: skip
        if self.webhook_url:
            command += ["--webhook-url", self.webhook_url]
        if self.api_key:
            key_file = self.db_path.parent / "api-key"
            key_file.write_text(self.api_key + "\n")
            command += ["--api-key-file", str(key_file)]
        # The caller's own PSP_SANDBOX_* settings must not leak into the sandbox under test.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PSP_SANDBOX_")}
        environment[WEBHOOK_SECRET_ENV] = WEBHOOK_SECRET
        self.process = subprocess.Popen(command, env=environment)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("sandbox did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


SandboxStarter = Callable[..., SandboxProcess]


@pytest.fixture
def start_sandbox(tmp_path: Path, webhook_receiver: WebhookReceiver) -> Iterator[SandboxStarter]:
    """Start sandboxes with extra command-line arguments (and an API key); all stop at the end."""
    started: list[SandboxProcess] = []

    def start(*extra_args: str, api_key: str | None = None) -> SandboxProcess:
        directory = tmp_path / f"sandbox-{len(started)}"
        directory.mkdir()
        process = SandboxProcess(
            directory / "sandbox.sqlite3", webhook_receiver.url, api_key, list(extra_args)
        )
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def sandbox(start_sandbox: SandboxStarter) -> SandboxProcess:
    return start_sandbox()


@pytest.fixture
def client(sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.base_url, timeout=10, headers=sandbox.auth_headers
    ) as http_client:
        yield http_client


TokenMaker = Callable[..., str]


@pytest.fixture
def make_token(client: httpx.Client) -> TokenMaker:
    def tokenise(number: str = "4242424242424242") -> str:
        answer = client.post(
            "/v1/tokens", json={"number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123"}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])

    return tokenise


ChargeMaker = Callable[..., dict[str, Any]]


@pytest.fixture
def make_charge(client: httpx.Client, make_token: TokenMaker) -> ChargeMaker:
    """Charge a test card (default: one that succeeds); returns the charge object."""

    def charge(
        number: str = "4242424242424242", amount: int = 1000, reference: str = "order_1"
    ) -> dict[str, Any]:
        body = {"amount": amount, "currency": "USD", "token": make_token(number)}
        body["reference"] = reference
        answer = client.post(
            "/v1/charges", json=body, headers={"Idempotency-Key": f"charge-{reference}"}
        )
        assert answer.status_code in (201, 202, 402), answer.text
        return dict(answer.json())

    return charge


def post_charge(
    client: httpx.Client, token: str, key: str, reference: str = "po_1", amount: int = 1000
) -> httpx.Response:
    """POST /v1/charges of `amount` (minor units, USD) on `token` under Idempotency-Key `key`."""
    body = {"amount": amount, "currency": "USD", "token": token, "reference": reference}
    return client.post("/v1/charges", json=body, headers={"Idempotency-Key": key})


def charge_count(client: httpx.Client, reference: str) -> int:
    """How many charges the sandbox holds for `reference`."""
    return int(
        client.get("/admin/charges/count", params={"reference": reference}).json()["charges"]
    )


def post_refund(
    client: httpx.Client, key: str, charge: str, amount: int | None = None, **extra: Any
) -> httpx.Response:
    """POST /v1/refunds for `charge` under Idempotency-Key `key` (reference "rf_1" unless
    given; no amount: the whole rest); `extra` fields go into the body as they are."""
    body: dict[str, Any] = {"charge": charge, "reference": extra.pop("reference", "rf_1")}
    if amount is not None:
        body["amount"] = amount
    return client.post("/v1/refunds", json={**body, **extra}, headers={"Idempotency-Key": key})


def table_counts(db_path: Path) -> dict[str, int]:
    """Rows per table of a running sandbox's database, read beside it (WAL allows a reader)."""
    uri = f"file:{db_path}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: int(connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
            for name in names
        }


@pytest.fixture
def silent_receiver() -> Iterator[str]:
    """A URL whose server accepts connections and reads, but never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/webhooks/psp"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()
