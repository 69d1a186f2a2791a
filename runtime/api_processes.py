"""The API as several processes that share one listening socket (PAYMENTS_API_PROCESSES).

One Python process serves HTTP on at most one core (its GIL), and the API spends several
times the application's CPU per request (docs/performance.md). With N > 1 the parent binds
the port once and starts N `payments api-process` children; each accepts on that socket,
builds its own services (pool, key cache, group commit) and runs uvicorn. The parent serves
no request: it runs the background roles, starts a child again when one dies, and stops
them all. Their metrics meet in one prometheus multiprocess directory, which each child's
/metrics sums; each child's rate limits admit its share of a window (ADR 0020).
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from prometheus_client import multiprocess

from payments.runtime.roles import payments_child, stop_children

log = logging.getLogger("payments.serve")

BACKLOG = 2048
# A child that exits sooner than this after it started is broken, not unlucky: stop all.
EARLY_EXIT_S = 5.0


class ApiProcesses:
    """N API processes on one listening socket, supervised (see the module's docstring)."""

    def __init__(
        self,
        count: int,
        host: str,
        port: int,
        *,
        database_url: str,
        psp_url: str | None,
        arguments: list[str] | None = None,
    ) -> None:
        if count < 2:
            raise ValueError("ApiProcesses is for two processes or more")
        self.count, self.host, self.port = count, host, port
        self.database_url = database_url
        self.arguments = [*(["--psp-url", psp_url] if psp_url else []), *(arguments or [])]
        self.children: list[tuple[subprocess.Popen[bytes], float]] = []
        self.listening: socket.socket | None = None
        self.metrics_dir: Path | None = None

    def start(self) -> None:
        self.listening = listen(self.host, self.port)
        self.metrics_dir = Path(tempfile.mkdtemp(prefix="payments-metrics-"))
        self.children = [self._spawn() for _ in range(self.count)]

    def _spawn(self) -> tuple[subprocess.Popen[bytes], float]:
        assert self.listening is not None
        assert self.metrics_dir is not None
        fd = self.listening.fileno()
        child = payments_child(
            ["api-process", "--fd", str(fd), *self.arguments],
            self.database_url,
            env={"PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)},
            pass_fds=(fd,),
        )
        log.info("api process started", extra={"pid": child.pid})
        return child, time.monotonic()

    def supervise(self, poll_s: float = 0.5) -> None:
        """Until interrupted: a child that dies is started again; one that dies at once
        (a configuration it refuses, say) stops them all with an error."""
        while True:
            time.sleep(poll_s)
            for index, (child, started) in enumerate(self.children):
                code = child.poll()
                if code is None:
                    continue
                assert self.metrics_dir is not None
                multiprocess.mark_process_dead(child.pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]
                if time.monotonic() - started < EARLY_EXIT_S:
                    raise RuntimeError(f"api process {child.pid} exited at start (code {code})")
                log.error("api process exited: starting another", extra={"pid": child.pid})
                self.children[index] = self._spawn()

    def stop(self, timeout_s: float = 30.0) -> None:
        stop_children([child for child, _ in self.children], timeout_s)
        if self.listening is not None:
            self.listening.close()
        if self.metrics_dir is not None:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket the children inherit (as uvicorn binds its own)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listening = socket.socket(family, kind, proto)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(address)
    listening.listen(BACKLOG)
    listening.set_inheritable(True)
    return listening
