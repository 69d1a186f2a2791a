"""Background roles that `payments serve` runs beside the API (and `payments worker` alone)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

from payments.psp.client import HttpPspClient
from payments.psp.executor import ExecutorConfig, PaymentExecutor
from payments.runtime.ports import CannotStart
from payments.runtime.services import Services

log = logging.getLogger("payments.roles")


@dataclass
class Role:
    """A background role: start() returns quickly, stop() ends it and waits."""

    name: str
    start: Callable[[], None]
    stop: Callable[[], None]


RoleFactory = Callable[[Services], Role]


def build_executor(services: Services) -> PaymentExecutor:
    if not services.psp_url:
        raise RuntimeError("no PSP configured: set PAYMENTS_PSP_URL or run `payments serve`")
    settings = services.settings.executor
    delays = tuple(timedelta(seconds=s) for s in settings.requery_delays_s)
    config = ExecutorConfig(
        batch_size=settings.batch_size,
        concurrency=settings.concurrency,
        parallel_batches=settings.parallel_batches,
        max_attempts=settings.max_attempts,
        backoff_base_s=settings.backoff_base_s,
        backoff_cap_s=settings.backoff_cap_s,
        requery_delays=delays,
        lease=timedelta(seconds=settings.lease_s),
    )
    feeder = services.execution_feed(first_requery_delay=delays[0])
    client = HttpPspClient(
        services.psp_url,
        timeout_s=settings.psp_timeout_s,
        max_connections=settings.concurrency,
        api_key=services.settings.psp_api_key,
    )
    return PaymentExecutor(
        services.application,
        services.queue,
        feeder,
        client,
        config,
        followers=[*services.money_followers(), services.risk_feed, services.webhooks.feed],
    )


def executor_role(services: Services) -> Role:
    """The executor and, beside it, the sender of webhooks to merchants (ADR 0027)."""
    executor = build_executor(services)
    sender = services.webhooks.sender()
    threads = [
        threading.Thread(target=executor.run_forever, name="executor", daemon=True),
        threading.Thread(target=sender.run_forever, name="webhook-sender", daemon=True),
    ]

    def start() -> None:
        for thread in threads:
            thread.start()

    def stop() -> None:
        executor.stop()
        sender.stop()
        for thread in threads:
            thread.join(timeout=30)
        executor.close()
        sender.close()

    return Role("executor", start, stop)


class SandboxProcess:
    """The PSP sandbox as a child process with its own SQLite state in the data dir."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        webhook_url: str,
        secret_file: Path,
        api_key_file: Path | None = None,
        trusted_certificate: Path | None = None,
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "psp-sandbox.log"
        # Secrets go by file (0600), never on the command line, where `ps` would show them.
        self.command = [
            sys.executable, "-m", "payments.psp.sandbox",
            "--port", str(port),
            "--db", str(data_dir / "psp-sandbox.sqlite3"),
            "--webhook-url", webhook_url,
            "--webhook-secret-file", str(secret_file),
            *(["--api-key-file", str(api_key_file)] if api_key_file else []),
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0
        self.env = dict(os.environ)
        if trusted_certificate is not None:  # httpx trusts the bundle SSL_CERT_FILE names
            self.env["SSL_CERT_FILE"] = str(trusted_certificate)

    def start(self, timeout_s: float = 30.0) -> None:
        with self.log_path.open("ab") as log_file:
            self._log_start = log_file.tell()  # the log keeps earlier runs' lines
            self.process = subprocess.Popen(
                self.command,
                stdout=log_file,
                stderr=log_file,
                env=self.env,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CannotStart(
                    f"the PSP sandbox exited: {self._last_error()}; its log: {self.log_path}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    log.info("psp sandbox ready", extra={"url": self.url})
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise CannotStart(f"the PSP sandbox did not answer on {self.url}; its log: {self.log_path}")

    def _last_error(self) -> str:
        """This run's last log line that says ERROR (uvicorn's, a traceback's last), else its
        last line."""
        with self.log_path.open("rb") as log_file:
            log_file.seek(self._log_start)
            text = log_file.read().decode(errors="replace")
        lines = text.strip().splitlines() or ["no output"]
        errors = [line for line in lines if "ERROR" in line or "Error" in line]
        return " ".join((errors or lines)[-1].split())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when `payments serve` dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal as signals

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signals.SIGTERM)


def payments_child(
    arguments: list[str],
    database_url: str,
    *,
    env: dict[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """`payments ARGUMENTS` as a child process on the parent's database (the embedded
    server's too), that gets SIGTERM when the parent dies."""
    return subprocess.Popen(
        [sys.executable, "-m", "payments.cli.main", *arguments],
        env={**os.environ, "PAYMENTS_DATABASE_URL": database_url, **(env or {})},
        pass_fds=pass_fds,
        preexec_fn=die_with_parent,
    )


def stop_children(children: list[subprocess.Popen[bytes]], timeout_s: float = 30.0) -> None:
    """SIGTERM to each child still running, then wait for all; SIGKILL past the timeout."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + timeout_s
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def child_role(name: str, arguments: list[str]) -> RoleFactory:
    """A role run as a `payments ...` child process, so it does not share the API's GIL."""

    def factory(services: Services) -> Role:
        process: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            process.append(payments_child(arguments, services.database_url))

        return Role(name, start, lambda: stop_children(process))

    return factory
