"""The live parts one sandbox process shares between its handlers and its background worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.faults import FaultBook
from payments.psp.sandbox.problems import ProblemError
from payments.psp.sandbox.store import SandboxStore


@dataclass
class KeysInFlight:
    """Idempotency keys whose first request is still being processed (→ 409 for a second)."""

    _keys: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def hold(self, scope: str, key: str) -> Iterator[None]:
        with self._lock:
            if (scope, key) in self._keys:
                raise ProblemError(
                    409, "Request in flight", "a request with this Idempotency-Key is in flight"
                )
            self._keys.add((scope, key))
        try:
            yield
        finally:
            with self._lock:
                self._keys.discard((scope, key))


@dataclass
class Sandbox:
    config: SandboxConfig
    store: SandboxStore
    fingerprint_secret: str  # the configured one, else this database's own
    faults: FaultBook = field(default_factory=FaultBook)
    keys_in_flight: KeysInFlight = field(default_factory=KeysInFlight)
