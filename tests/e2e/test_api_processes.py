"""`payments serve` with PAYMENTS_API_PROCESSES=2 (ADR 0020): two API processes share the
port and their metrics; one killed is replaced while the other serves; Ctrl-C stops all."""

from __future__ import annotations

import http.client
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Process, authorization, clean_env, create_key, free_port
from tests.integration.helpers import checkout_body, new_key

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)"),
]


def api_processes(parent: int) -> list[int]:
    """The `payments api-process` children of `parent`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) == parent and b"api-process" in command:
            found.append(int(entry))
    return sorted(found)


def served_by(pid: int) -> set[int]:
    """The pids whose request counters are in the metrics directory `pid` writes to."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    directory = next(v for v in environ if v.startswith(b"PROMETHEUS_MULTIPROC_DIR="))
    files = Path(directory.split(b"=", 1)[1].decode()).glob("counter_*.db")
    return {int(f.stem.split("_")[1]) for f in files}


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def posts_counted(base: str, operator: dict[str, str]) -> float:
    text = httpx.get(f"{base}/metrics", headers=operator, timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("payments_requests_total{")
        and 'method="POST"' in line
        and 'path="/payments"' in line
    )


def test_two_api_processes_share_the_port_the_metrics_and_survive_a_kill(
    data_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_env(
        PAYMENTS_DATA_DIR=str(data_dir),
        PAYMENTS_PORT=str(port),
        PAYMENTS_PSP_SANDBOX_PORT=str(free_port()),
        PAYMENTS_API_PROCESSES="2",
    )
    base = f"http://127.0.0.1:{port}"
    serve = Process(["serve"], env, tmp_path / "serve.log")
    try:
        serve.wait_http(f"{base}/health", timeout=120)
        wait_for(lambda: len(api_processes(serve.popen.pid)) == 2)
        first = api_processes(serve.popen.pid)
        merchant = authorization(create_key(env, "merchant"))
        operator = authorization(create_key(env, "operator"))

        def place(_: int) -> int:
            # A connection per request, as many clients make: the kernel hands each to
            # whichever process accepts it first.
            answer = httpx.post(
                f"{base}/payments",
                json=checkout_body(1),
                headers={**new_key(), **merchant, "Connection": "close"},
                timeout=30,
            )
            return answer.status_code

        with ThreadPoolExecutor(6) as pool:
            assert set(pool.map(place, range(40))) == {201}
        assert served_by(first[0]) == set(first), "both processes served"
        assert posts_counted(base, operator) == 40, "/metrics sums every process's counters"

        # An idle connection outlives a client's keep-alive (httpx: 5 s): the server never
        # closes one just as the client sends on it (ADR 0020).
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/health")
        assert connection.getresponse().read()
        time.sleep(6)
        connection.request("GET", "/health")
        assert connection.getresponse().status == 200
        connection.close()

        os.kill(first[0], signal.SIGKILL)
        with ThreadPoolExecutor(6) as pool:  # the other process serves meanwhile
            assert set(pool.map(place, range(12))) == {201}
        wait_for(lambda: len(api_processes(serve.popen.pid)) == 2)
        second = api_processes(serve.popen.pid)
        assert first[1] in second
        assert first[0] not in second
        assert "api process exited: starting another" in serve.logs()
        assert posts_counted(base, operator) == 52, "a dead process's counts are kept"
    finally:
        code = serve.interrupt(sig=signal.SIGTERM)
    assert code == 0, serve.logs()[-3000:]
    assert '"msg": "stopped"' in serve.logs()
    assert api_processes(serve.popen.pid) == []
