"""Run several projections in one process, each behind its runner lock, following the log
together: one thread reads each new event once, decodes it once and hands it to every view
that reads its topic (`catch_up_together`); each view still applies its batch with its
position in one transaction of its own, and a view that meets a poisoned event stops alone.
One thread a view waits for (and holds) its lock, so a view another process runs joins the
group when that process lets go."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from payments.projections.catalog import NAMES, live_view
from payments.projections.core import ProjectionPoisoned, TrackingConflict
from payments.projections.runner import (
    CATCH_UP_BATCH,
    LIVE_LINGER_S,
    TRANSIENT_ERRORS,
    ProjectionRunner,
    catch_up_together,
)
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
        retry_delay: float = 1.0,
        source: ApplicationEventSource | None = None,
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
        self.retry_delay = retry_delay
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.poisoned: dict[str, ProjectionPoisoned] = {}
        self.locked_out: list[str] = []  # names another process runs (wait_for_lock=False)
        self.running: set[str] = set()
        # The views that hold their locks, and for each the event its lock thread waits on
        # (set when the view leaves the group: poisoned, failed or stopped).
        self._members: dict[str, ProjectionRunner] = {}
        self._left: dict[str, threading.Event] = {}
        self._changed = threading.Lock()
        self._status = PostgresStatusRecorder(pool)
        # One reader for the group (it connects to LISTEN when it first waits for news).
        self._source = source or ApplicationEventSource(application, database_url)
        self._follower: threading.Thread | None = None

    def start(self) -> None:
        for name in self.names:
            thread = threading.Thread(
                target=self._run_one, args=(name,), name=f"projection-{name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)
        self._follower = threading.Thread(
            target=self._follow, name="projections-follow", daemon=True
        )
        self._follower.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        for thread in self.threads:
            thread.join(timeout)
        if self._follower is not None:
            self._follower.join(timeout)

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
        left = threading.Event()
        self._join_group(name, left)
        try:
            while not left.wait(0.5) and not self.stop_event.is_set():
                pass
        finally:
            if not left.is_set() and self._follower is not None:
                self._follower.join()  # stopping: the lock goes once no batch of it is in hand
            self._leave_group(name)
            lock.release()

    def _join_group(self, name: str, left: threading.Event) -> None:
        runner = ProjectionRunner(
            live_view(self.pool, name),
            self._source,
            status=self._status,
            batch_size=self.batch_size,
        )
        self._status.record_running(name)
        log.info("projection running", extra={"projection": name})
        with self._changed:
            self._members[name], self._left[name] = runner, left
            self.running.add(name)

    def _leave_group(self, name: str) -> None:
        """Out of the group (if still in it); stopped, unless its runner recorded poisoned."""
        with self._changed:
            if self._members.pop(name, None) is None:
                return
            left = self._left.pop(name)
            self.running.discard(name)
        left.set()
        poisoned = name in self.poisoned
        if not poisoned:
            self._status.record_stopped(name)
        log.info("projection stopped", extra={"projection": name, "poisoned": poisoned})

    def _poisoned(self, poisoned: ProjectionPoisoned) -> None:
        self.poisoned[poisoned.name] = poisoned
        self._leave_group(poisoned.name)

    def _follow(self) -> None:
        """Until stop, or until no view is left nor waiting: bring every member up to the
        head, reading the log once for them all, then wait for news (as a runner's run)."""
        try:
            while not self.stop_event.is_set():
                with self._changed:
                    members = list(self._members.values())
                if not members:
                    if not any(thread.is_alive() for thread in self.threads):
                        return
                    self.stop_event.wait(0.05)
                    continue
                self._follow_once(members)
        finally:
            self._source.close()

    def _follow_once(self, members: list[ProjectionRunner]) -> None:
        source = self._source
        try:
            head = source.head()
            catch_up_together(members, [head] * len(members), on_poisoned=self._poisoned)
            source.wait_for_news(self.idle_wait)
            self.stop_event.wait(LIVE_LINGER_S)
        except TrackingConflict as conflict:
            log.warning("projection moved by another writer", extra={"detail": str(conflict)})
        except TRANSIENT_ERRORS as error:
            log.warning("projections waiting for the database", extra={"error": str(error)})
            self.stop_event.wait(self.retry_delay)
        except Exception:
            # As a lone runner that failed: its views stop (their locks are let go).
            names = [runner.name for runner in members]
            log.exception("projection runner failed", extra={"projections": names})
            for name in names:
                self._leave_group(name)
