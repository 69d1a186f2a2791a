"""Run several projections in one process: one thread each, each behind its runner lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from payments.projections.catalog import NAMES, live_view
from payments.projections.core import ProjectionPoisoned
from payments.projections.runner import CATCH_UP_BATCH, ProjectionRunner
from payments.projections.source import ApplicationEventSource
from payments.projections.status import PostgresStatusRecorder, RunnerLock

log = logging.getLogger("payments.projections")


class ProjectionService:
    """Start() returns at once; each projection waits for its lock, then runs until stop()."""

    def __init__(
        self,
        application: Application[Any],
        pool: ConnectionPool,
        database_url: str,
        names: Sequence[str] = NAMES,
        *,
        batch_size: int = CATCH_UP_BATCH,
        wait_for_lock: bool = True,
        idle_wait: float = 1.0,
    ) -> None:
        for name in names:
            live_view(pool, name)  # refuse unknown names early
        self.application = application
        self.pool = pool
        self.database_url = database_url
        self.names = tuple(names)
        self.batch_size = batch_size
        self.wait_for_lock = wait_for_lock
        self.idle_wait = idle_wait
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.poisoned: dict[str, ProjectionPoisoned] = {}
        self.locked_out: list[str] = []  # names another process runs (wait_for_lock=False)
        self.running: set[str] = set()

    def start(self) -> None:
        for name in self.names:
            thread = threading.Thread(
                target=self._run_one, args=(name,), name=f"projection-{name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        for thread in self.threads:
            thread.join(timeout)

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def _run_one(self, name: str) -> None:
        lock = RunnerLock(self.database_url, name)
        if self.wait_for_lock:
            if not lock.try_acquire():
                log.info(
                    "projection runs elsewhere; waiting for its lock",
                    extra={"projection": name, "holder": lock.holder()},
                )
                if not lock.acquire(self.stop_event):
                    return
        elif not lock.try_acquire():
            log.error(
                "projection already has a runner",
                extra={"projection": name, "holder": lock.holder()},
            )
            self.locked_out.append(name)
            return
        source = ApplicationEventSource(self.application, self.database_url)
        runner = ProjectionRunner(
            live_view(self.pool, name),
            source,
            status=PostgresStatusRecorder(self.pool),
            batch_size=self.batch_size,
            idle_wait=self.idle_wait,
        )
        self.running.add(name)
        try:
            runner.run(self.stop_event)
        except ProjectionPoisoned as poisoned:
            self.poisoned[name] = poisoned
        except Exception:
            log.exception("projection runner failed", extra={"projection": name})
        finally:
            self.running.discard(name)
            source.close()
            lock.release()
