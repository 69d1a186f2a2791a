"""Start the real `payments` processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

PAYMENTS = str(Path(sys.executable).parent / "payments")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_payments(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`payments ARGS` to its end, with this environment and `env` over it; its output kept."""
    return subprocess.run(
        [sys.executable, "-m", "payments.cli.main", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


class Process:
    """A `payments` subcommand running in its own process group, logs to a file."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            [PAYMENTS, *args],
            env=process_env(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        self.wait_http_with(url, timeout=timeout)

    def wait_http_with(
        self, url: str, *, timeout: float = 60.0, verify: ssl.SSLContext | bool = True
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"process exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(url, timeout=1.0, verify=verify).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{url} not up: {self.log_path.read_text()[-3000:]}")

    def interrupt(self, timeout: float = 30.0, sig: int = signal.SIGINT) -> int:
        """Ctrl-C (or another signal), as a user or a supervisor sends it; the exit code."""
        self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        self._log.close()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def process_env(env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment, but PAYMENTS_* only from env: each test says its config."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    return {**inherited, **env}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a new user: no PAYMENTS_DATABASE_URL unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env.update(extra)
    return env


def create_key(env: Mapping[str, str], role: str = "admin", seller: str | None = None) -> str:
    """A new API key made by `payments keys create`, as a user does before any call."""
    import json

    arguments = [PAYMENTS, "keys", "create", "--role", role, "--json"]
    if seller is not None:
        arguments += ["--seller", seller]
    done = subprocess.run(
        arguments, env=process_env(env), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"payments keys create: {done.returncode}\n{done.stderr}"
    key: str = json.loads(done.stdout)["key"]
    return key


def authorization(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
