"""Shared fixtures: a real sandbox process on a free port, and a webhook receiver."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

WEBHOOK_SECRET = "whsec_test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    db_path: Path
    webhook_url: str | None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable, "-m", "payments.psp.sandbox", "--port", str(self.port), "--db",
            str(self.db_path), "--webhook-secret", WEBHOOK_SECRET, "--pending-delay", "0.3",
            "--payout-delay", "0.2", "--payout-return-delay", "0.3", "--webhook-retry-base",
            "0.1", "--webhook-retry-cap", "0.3", "--timeout-fault-seconds", "3",
            "--log-level", "warning",
        ]  # fmt: skip
        if self.webhook_url:
            command += ["--webhook-url", self.webhook_url]
        self.process = subprocess.Popen(command)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
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


@pytest.fixture
def sandbox(tmp_path: Path, webhook_receiver: WebhookReceiver) -> Iterator[SandboxProcess]:
    process = SandboxProcess(tmp_path / "sandbox.sqlite3", webhook_receiver.url)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def client(sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as http_client:
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
