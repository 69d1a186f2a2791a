"""Feed one view from the notification log: big batches to catch up, then follow live.

Each batch is applied with its tracking position in one transaction (the view's apply_batch),
so a crash anywhere applies every event exactly once after restart. An event the view cannot
apply stops the runner loudly: its notification id and reason are recorded, never skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NoReturn, Protocol

import psycopg
from eventsourcing.persistence import IntegrityError as StoreConflict
from eventsourcing.persistence import Notification
from eventsourcing.persistence import OperationalError as StoreOperationalError

from payments.domain.errors import ConcurrentWrite
from payments.projections.core import (
    ProjectionPoisoned,
    ProjectionView,
    TrackedEvent,
    TrackingConflict,
)
from payments.projections.source import EventSource
from payments.projections.storable import storable

log = logging.getLogger("payments.projections")

CATCH_UP_BATCH = 1000
# Views applying their batches side by side when catch_up_together rebuilds or verifies them
# from event zero: two, as measured on two cores (more wait for the GIL; docs/performance.md).
APPLY_THREADS = 2
# Following live, a runner woken by new events waits this long before reading them, so that
# the events of the requests committed meanwhile come in the same batch: one read and one
# view transaction for them all instead of one per request (docs/performance.md measured it).
LIVE_LINGER_S = 0.02
TRANSIENT_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, StoreOperationalError)
# Errors that are about the position or concurrent writers, not the event: re-raised as they
# are, never poison (a follower that saves aggregates can meet a concurrent write).
NOT_POISON = (TrackingConflict, ConcurrentWrite, StoreConflict, *TRANSIENT_ERRORS)

Progress = Callable[[int, int], None]  # (position, head)


class StatusRecorder(Protocol):
    def record_running(self, name: str) -> None: ...

    def record_stopped(self, name: str) -> None: ...

    def record_poisoned(self, name: str, notification_id: int, topic: str, reason: str) -> None: ...


class ProjectionRunner:
    def __init__(
        self,
        view: ProjectionView,
        source: EventSource,
        *,
        status: StatusRecorder | None = None,
        batch_size: int = CATCH_UP_BATCH,
        idle_wait: float = 1.0,
        retry_delay: float = 1.0,
        linger: float = LIVE_LINGER_S,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.view = view
        self.source = source
        self.status = status
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.retry_delay = retry_delay
        self.linger = linger

    @property
    def name(self) -> str:
        return self.view.name

    def catch_up(self, target: int | None = None, progress: Progress | None = None) -> int:
        """Apply batches until the view reaches target (default: the head now); count events."""
        target = self.source.head() if target is None else target
        applied = 0
        while True:
            position, count = self.step(target)
            applied += count
            if progress is not None:
                progress(position, target)
            if position >= target:
                return applied

    def step(self, target: int) -> tuple[int, int]:
        """Apply one batch toward target; answer (the view's position, events applied)."""
        after = self.view.position()
        if after >= target:
            return after, 0
        notifications = self.source.read(after, target, self.batch_size, self.view.topics)
        full = len(notifications) == self.batch_size
        through = notifications[-1].id if full else target
        return through, self.apply_read(decode_all(self.source, notifications), after, through)

    def apply_read(self, read: Sequence[ReadEvent], after: int, through: int) -> int:
        """Apply events read after the view's position `after`, up to `through`; at an event
        that could not be decoded, apply the ones before it and stop (poisoned)."""
        events: list[TrackedEvent] = []
        for item in read:
            if isinstance(item, Unreadable):  # an event this code cannot even read
                self._apply(events, after, item.notification_id - 1)
                self._poison(item.notification_id, item.topic, item.error)
            events.append(item)
        self._apply(events, after, through)
        return len(events)

    def _apply(self, events: Sequence[TrackedEvent], after: int, through: int) -> None:
        try:
            self.view.apply_batch(events, after=after, through=through)
        except NOT_POISON:
            raise
        except Exception:
            self._apply_one_by_one(events, after, through)

    def _apply_one_by_one(self, events: Sequence[TrackedEvent], after: int, through: int) -> None:
        """Find the event that broke the batch: everything before it is applied, then stop."""
        for tracked in events:
            try:
                self.view.apply_batch([tracked], after=after, through=tracked.notification_id)
            except NOT_POISON:
                raise
            except Exception as error:
                self._apply_storable(tracked, after, error)
            after = tracked.notification_id
        self.view.apply_batch([], after=after, through=through)

    def _apply_storable(self, tracked: TrackedEvent, after: int, error: Exception) -> None:
        """An event that failed alone: applied with U+0000 replaced (projections/storable.py)
        when it holds one and that was the cause; otherwise the view stops there."""
        copied = storable(tracked)
        if copied is not None:
            try:
                self.view.apply_batch([copied], after=after, through=tracked.notification_id)
            except NOT_POISON:
                raise
            except Exception as again:
                error = again
            else:
                log.warning(
                    "event applied with U+0000 replaced by U+FFFD",
                    extra={
                        "projection": self.name,
                        "notification_id": tracked.notification_id,
                        "topic": tracked.topic,
                    },
                )
                return
        if after < tracked.notification_id - 1:  # account for the events before it
            self.view.apply_batch([], after=after, through=tracked.notification_id - 1)
        self._poison(tracked.notification_id, tracked.topic, error)

    def _poison(self, notification_id: int, topic: str, error: Exception) -> NoReturn:
        reason = f"{type(error).__name__}: {error}"[:2000]
        log.error(
            "projection poisoned: stopped at an event it cannot apply",
            extra={
                "projection": self.name,
                "notification_id": notification_id,
                "topic": topic,
                "reason": reason,
            },
        )
        if self.status is not None:
            self.status.record_poisoned(self.name, notification_id, topic, reason)
        raise ProjectionPoisoned(self.name, notification_id, reason) from error

    def run(self, stop: threading.Event) -> None:
        """Catch up, then follow new events until stop is set; raises ProjectionPoisoned."""
        if self.status is not None:
            self.status.record_running(self.name)
        log.info("projection running", extra={"projection": self.name})
        poisoned = False
        try:
            while not stop.is_set():
                try:
                    # Up to the head, then wait for a commit after it (at once when one
                    # came meanwhile) and linger, so that the next read takes the commits
                    # of that moment together (ADR 0018).
                    self.catch_up(self.source.head())
                    self.source.wait_for_news(self.idle_wait)
                    stop.wait(self.linger)
                except TrackingConflict as conflict:
                    log.warning(
                        "projection moved by another writer", extra={"detail": str(conflict)}
                    )
                except TRANSIENT_ERRORS as error:
                    log.warning(
                        "projection waiting for the database",
                        extra={"projection": self.name, "error": str(error)},
                    )
                    stop.wait(self.retry_delay)
        except ProjectionPoisoned:
            poisoned = True
            raise
        finally:
            if self.status is not None and not poisoned:
                self.status.record_stopped(self.name)
            log.info("projection stopped", extra={"projection": self.name, "poisoned": poisoned})


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A notification the code could not turn into an event, kept in its place."""

    notification_id: int
    topic: str
    error: Exception


ReadEvent = TrackedEvent | Unreadable


def decode_all(source: EventSource, notifications: Sequence[Notification]) -> list[ReadEvent]:
    read: list[ReadEvent] = []
    for notification in notifications:
        try:
            read.append(source.decode(notification))
        except Exception as error:
            read.append(Unreadable(notification.id, notification.topic, error))
    return read


def catch_up_together(
    runners: Sequence[ProjectionRunner],
    targets: Sequence[int] | None = None,
    progress: Progress | None = None,
    on_poisoned: Callable[[ProjectionPoisoned], None] | None = None,
    *,
    threads: int = 1,
) -> list[int]:
    """Bring several views to their targets (default: the head now) reading the log once
    for them all: each chunk is read with the union of their topics and decoded once, and
    each view keeps the events of its own topics past its own position until it has a
    batch of them (or reaches its target), then applies them in one transaction, as its
    runner's catch_up would. Same events, same final positions; a poisoned event stops them
    all, as catching them up one after the other stops at the first. Rebuilds and
    verifications of every view decode the log once instead of once per view; live views
    follow the log together so (projections/service.py), and there, given `on_poisoned`, a
    poisoned view is handed to it and left behind while the others go on. Answers the
    events each view applied, in the order of `runners`.

    With `threads` > 1 (views that write only their own tables, never followers that save
    aggregates; rebuilds and verifications), the views due in a round apply their batches
    side by side, each in its own transaction on its own connection, and the next chunk of
    the log is read and decoded meanwhile: the database works on one view's rows while this
    process builds another's (docs/performance.md). Each view still applies its batches in
    order, one at a time; a poisoned event stops them all at the end of the round."""
    if not runners:
        return []
    source = runners[0].source
    if targets is None:
        targets = [source.head()] * len(runners)
    applied_through = [runner.view.position() for runner in runners]
    read_through = list(applied_through)
    kept: list[list[ReadEvent]] = [[] for _ in runners]
    batch = max(runner.batch_size for runner in runners)
    applied = [0] * len(runners)
    stopped: set[int] = set()  # poisoned, with on_poisoned
    pool = ThreadPoolExecutor(threads, "catch-up") if threads > 1 else None
    ahead: tuple[_Chunk, Future[tuple[int, list[ReadEvent]]]] | None = None

    def chunk() -> _Chunk | None:
        behind = [
            i for i, target in enumerate(targets) if read_through[i] < target and i not in stopped
        ]
        if not behind:
            return None
        start = min(read_through[i] for i in behind)
        end = max(targets[i] for i in behind)
        return _Chunk(behind, start, end, _union([runners[i].view.topics for i in behind]))

    def read_chunk(wanted: _Chunk) -> tuple[int, list[ReadEvent]]:
        notifications = source.read(wanted.start, wanted.end, batch, wanted.topics)
        through = notifications[-1].id if len(notifications) == batch else wanted.end
        return through, decode_all(source, notifications)

    try:
        while (now := chunk()) is not None:
            if ahead is not None and ahead[0] == now:
                through, read = ahead[1].result()
            else:
                through, read = read_chunk(now)
            ahead = None
            due: list[int] = []
            for i in now.behind:
                runner, after, upto = runners[i], read_through[i], min(through, targets[i])
                if upto <= after:
                    continue  # ahead of this chunk: its turn comes when the others catch up
                wanted = runner.view.topics
                kept[i].extend(
                    item
                    for item in read
                    if after < item.notification_id <= upto
                    and (wanted is None or item.topic in wanted)
                )
                read_through[i] = upto
                if len(kept[i]) >= runner.batch_size or upto >= targets[i]:
                    due.append(i)
            if pool is not None and (following := chunk()) is not None:
                ahead = (following, pool.submit(read_chunk, following))
            outcomes = _apply_due(
                pool, runners, due, kept, (applied_through, read_through), on_poisoned is not None
            )
            for i, outcome in outcomes:
                if isinstance(outcome, ProjectionPoisoned) and on_poisoned is not None:
                    on_poisoned(outcome)
                    stopped.add(i)
                elif isinstance(outcome, Exception):
                    raise outcome
                else:
                    applied[i] += outcome
                applied_through[i], kept[i] = read_through[i], []
            if progress is not None and (going := [i for i in now.behind if i not in stopped]):
                progress(min(read_through[i] for i in going), now.end)
        return applied
    finally:
        if pool is not None:
            pool.shutdown()  # waits for a read in flight: its connection goes back first


@dataclass(frozen=True, slots=True)
class _Chunk:
    """One reading of the log for the views still behind: after start, up to end."""

    behind: list[int]
    start: int
    end: int
    topics: frozenset[str] | None


def _apply_due(
    pool: ThreadPoolExecutor | None,
    runners: Sequence[ProjectionRunner],
    due: list[int],
    kept: list[list[ReadEvent]],
    positions: tuple[list[int], list[int]],
    poison_handled: bool,
) -> list[tuple[int, int | Exception]]:
    """Apply each due view's kept events from its applied position through its read one
    (side by side with a pool): each view's count of events applied, or what it raised, in
    the order of `due` and after all of them ended (none left running behind an error). One
    after the other, an error ends the round there, as a raise would, unless it is a
    poisoning the caller hands on (`poison_handled`)."""
    applied_through, read_through = positions

    def apply(i: int) -> int | Exception:
        try:
            return runners[i].apply_read(kept[i], applied_through[i], read_through[i])
        except Exception as error:
            return error

    if pool is not None and len(due) > 1:
        return list(zip(due, pool.map(apply, due), strict=True))
    outcomes: list[tuple[int, int | Exception]] = []
    for i in due:
        outcome = apply(i)
        outcomes.append((i, outcome))
        if isinstance(outcome, Exception) and not (
            poison_handled and isinstance(outcome, ProjectionPoisoned)
        ):
            break
    return outcomes


def _union(topic_sets: Sequence[frozenset[str] | None]) -> frozenset[str] | None:
    """Every topic any of them reads; None (all topics) when one of them reads all."""
    union: set[str] = set()
    for topics in topic_sets:
        if topics is None:
            return None
        union |= topics
    return frozenset(union)


def wait_for_position(view: ProjectionView, position: int, timeout: float) -> bool:
    """Wait until the view has applied `position` (read-your-writes); False on timeout."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while view.position() < position:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, 0.05)
    return True
