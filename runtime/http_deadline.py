"""A hard deadline for a whole HTTP exchange made with urllib3 (the webhook sender's).

urllib3's read timeout bounds each read from the socket, not the answer: a server that sends
a byte every few seconds keeps a request going for as long as it likes (a 1 s timeout took
12 s against a server sending one byte every 0.3 s). The webhook sender POSTs to servers
anybody may register, and its lease is only sound if an attempt ends within its timeout.

`Deadlines.within(seconds)` marks the exchange a thread makes; the connection classes here
tell it which connection the thread uses; a watchdog thread shuts down the socket of an
exchange past its deadline, which ends any read at once, and `within` then raises
DeadlineExceeded whatever the exchange made of the cut (an error, or a short answer that
looks complete). A hand-written watchdog because neither urllib3 nor the standard library has
a deadline for a whole exchange (ADR 0027).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class DeadlineExceeded(Exception):
    """The exchange did not end within its deadline: its socket was shut down."""


@dataclass(slots=True)
class _Exchange:
    deadline: float
    connection: HTTPConnection | None = None
    cut: bool = False


class Deadlines:
    def __init__(self, tick_s: float = 0.05) -> None:
        self._tick_s = tick_s
        self._lock = threading.Lock()
        self._open: dict[int, _Exchange] = {}  # by thread
        self._watching = False

    @contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """The exchange this thread makes in the block ends within `seconds`, or raises
        DeadlineExceeded."""
        me = threading.get_ident()
        with self._lock:
            self._open[me] = _Exchange(time.monotonic() + seconds)
            self._start_watching()
        try:
            yield
        except Exception:
            if not self._close(me):
                raise
            raise DeadlineExceeded(f"no complete answer within {seconds:g}s") from None
        if self._close(me):
            raise DeadlineExceeded(f"no complete answer within {seconds:g}s")

    def attach(self, connection: HTTPConnection) -> None:
        """The connection this thread's exchange uses (called as it sends a request)."""
        with self._lock:
            exchange = self._open.get(threading.get_ident())
            if exchange is not None:
                exchange.connection = connection

    def _close(self, me: int) -> bool:
        """Forget this thread's exchange; whether the watchdog cut it (then its connection
        is closed too, so that the pool connects afresh rather than reuse it)."""
        with self._lock:
            exchange = self._open.pop(me)
        if exchange.cut and exchange.connection is not None:
            exchange.connection.close()
        return exchange.cut

    def _start_watching(self) -> None:
        if not self._watching:
            self._watching = True
            threading.Thread(target=self._watch, name="http-deadlines", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(self._tick_s)
            now = time.monotonic()
            with self._lock:
                for exchange in self._open.values():
                    if exchange.cut or exchange.deadline > now or exchange.connection is None:
                        continue
                    sock = exchange.connection.sock
                    if sock is None:  # still connecting: its own timeout bounds that
                        continue
                    exchange.cut = True
                    with contextlib.suppress(OSError):  # closed meanwhile
                        sock.shutdown(socket.SHUT_RDWR)


DEADLINES = Deadlines()


class _DeadlineHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        DEADLINES.attach(self)
        super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        DEADLINES.attach(self)
        super().request(*args, **kwargs)


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


def pool_manager(**kwargs: Any) -> urllib3.PoolManager:
    """A PoolManager whose connections `DEADLINES.within` can cut."""
    manager = urllib3.PoolManager(**kwargs)
    manager.pool_classes_by_scheme = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}
    return manager
