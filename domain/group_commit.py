"""Group commit: the saves of concurrent commands share one transaction (ADR 0019).

The event store's recorder serialises writers (it locks the events table to number
notifications without gaps), so N concurrent commands cost N transactions one after the
other. Here the first caller to arrive becomes the leader: it takes every save waiting
(up to `max_batch`, none touching the same aggregate twice) and writes their events in one
transaction; the callers that arrived meanwhile wait, and the next leader takes them. A
caller returns only after its own events are committed, with its own recordings.

A save may carry rows the event store writes in its transaction (`WITH_EVENTS`, e.g. a
checkout's new personal-data key, or an Idempotency-Key's answer): the shared transaction
writes all of them. A row that names its save's position (`AtPosition`: the answer) is told
which event is its save's last; the event store writes it once that event has its id.

When the shared transaction fails on a conflict (IntegrityError: another writer came first
for one of them, or a business id is taken), each save of the batch is written again on its
own, so only the one in conflict fails, and its caller decides again as it always did.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording

Processing = ProcessingEvent[Any]
Recordings = list[Recording[Any]]
Write = Callable[[Processing], Recordings]
# The save's keyword the event store's recorder reads: a list of objects it writes in the
# events' transaction (projections/event_store.py, PaymentsRecorder).
WITH_EVENTS = "with_events"
EventKey = tuple[Any, int]  # (originator_id, originator_version)


class AtPosition:
    """A row written with its save's events that holds the save's position: the notification
    id of the save's last event (`last_event`, set by `PaymentsApplication.record`)."""

    __slots__ = ("last_event",)

    def __init__(self) -> None:
        self.last_event: EventKey | None = None

    def follows(self, last_event: EventKey) -> None:
        self.last_event = last_event


class _Save:
    __slots__ = ("done", "error", "lead", "processing", "recordings")

    def __init__(self, processing: Processing) -> None:
        self.processing = processing
        self.done = threading.Event()
        self.lead = False  # handed the leader's turn instead of an answer
        self.recordings: Recordings = []
        self.error: BaseException | None = None


class GroupCommit:
    """Writes concurrent saves in shared transactions (see the module's docstring)."""

    def __init__(self, write: Write, max_batch: int = 64) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write = write
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Save] = []
        self._leading = False
        self.transactions = 0  # shared transactions written (for tests and metrics)

    def save(self, processing: Processing) -> Recordings:
        """Write this save's events, perhaps with others'; its recordings once committed."""
        if self._max_batch == 1:
            return self._write(processing)
        mine = _Save(processing)
        with self._lock:
            self._waiting.append(mine)
            lead = not self._leading
            self._leading = True
        while not mine.done.is_set():
            if lead:
                self._lead()
            else:
                mine.done.wait()
            lead, mine.lead = mine.lead, False
            if lead:
                mine.done.clear()
        if mine.error is not None:
            raise mine.error
        return mine.recordings

    def _lead(self) -> None:
        """Write one batch, then hand the lead to a waiting save (or give it up)."""
        with self._lock:
            batch = self._take()
        try:
            self._commit(batch)
        finally:
            with self._lock:
                if self._waiting:
                    successor = self._waiting[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._leading = False
            for save in batch:
                save.done.set()

    def _take(self) -> list[_Save]:
        """The saves waiting, oldest first, leaving those that share an aggregate with one
        taken (the second would conflict with the first in the same transaction)."""
        batch: list[_Save] = []
        taken: set[Any] = set()
        left: list[_Save] = []
        for save in self._waiting:
            ids = set(save.processing.aggregates) | {
                e.originator_id for e in save.processing.events
            }
            if len(batch) < self._max_batch and not ids & taken:
                batch.append(save)
                taken |= ids
            else:
                left.append(save)
        self._waiting = left
        return batch

    def _commit(self, batch: Sequence[_Save]) -> None:
        if len(batch) > 1:
            shared: Processing = ProcessingEvent()
            for save in batch:
                shared.events.extend(save.processing.events)
                shared.aggregates.update(save.processing.aggregates)
                rows = save.processing.saved_kwargs.get(WITH_EVENTS, ())
                if rows:
                    shared.saved_kwargs.setdefault(WITH_EVENTS, []).extend(rows)
            try:
                recordings = self._write(shared)
            except IntegrityError:
                pass  # one of them is in conflict: write each alone, below
            except BaseException as error:  # the database failed them all alike
                for save in batch:
                    save.error = error
                return
            else:
                self.transactions += 1
                start = 0
                for save in batch:
                    end = start + len(save.processing.events)
                    save.recordings = recordings[start:end]
                    start = end
                return
        for save in batch:
            try:
                save.recordings = self._write(save.processing)
                self.transactions += 1
            except BaseException as error:
                save.error = error
