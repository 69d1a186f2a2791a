"""GroupCommit with a writer in memory: who shares a transaction, who is written alone."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording

from payments.domain.group_commit import WITH_EVENTS, GroupCommit


class Event:
    def __init__(self, originator_id: UUID, name: str) -> None:
        self.originator_id = originator_id
        self.name = name


class Writer:
    """Records each transaction's event names; the first one waits until `release` is set;
    an event named "taken" fails the transaction it is in."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.rows: list[list[str]] = []  # each transaction's rows written with its events
        self.release = threading.Event()
        self.first = threading.Event()
        self.next_id = 0
        self.lock = threading.Lock()

    def __call__(self, processing: ProcessingEvent[Any]) -> list[Recording[Any]]:
        if not self.first.is_set():
            self.first.set()
            assert self.release.wait(10)
        names = [e.name for e in processing.events]
        if "taken" in names:
            raise IntegrityError("duplicate key")
        with self.lock:
            self.transactions.append(names)
            self.rows.append(list(processing.saved_kwargs.get(WITH_EVENTS, [])))
            ids = range(self.next_id + 1, self.next_id + 1 + len(names))
            self.next_id += len(names)
        return [Recording(e, _Notification(i)) for e, i in zip(processing.events, ids, strict=True)]


class _Notification:
    def __init__(self, id: int) -> None:
        self.id = id


def processing(*events: Event, rows: tuple[str, ...] = ()) -> ProcessingEvent[Any]:
    found: ProcessingEvent[Any] = ProcessingEvent()
    found.events.extend(events)  # type: ignore[arg-type]
    if rows:
        found.saved_kwargs[WITH_EVENTS] = list(rows)
    return found


def save_in_threads(
    commit: GroupCommit, writer: Writer, saves: list[ProcessingEvent[Any]]
) -> list[Any]:
    """The first save starts and holds the writer; the rest queue behind it; then go."""
    answers: list[Any] = [None] * len(saves)

    def run(index: int) -> None:
        try:
            answers[index] = [r.domain_event.name for r in commit.save(saves[index])]
        except IntegrityError as error:
            answers[index] = error

    threads = [threading.Thread(target=run, args=(0,))]
    threads[0].start()
    assert writer.first.wait(10)
    threads += [threading.Thread(target=run, args=(i,)) for i in range(1, len(saves))]
    for thread in threads[1:]:
        thread.start()
    while len(commit._waiting) < len(saves) - 1:  # every later save is queued
        threading.Event().wait(0.005)
    writer.release.set()
    for thread in threads:
        thread.join(10)
    return answers


def test_saves_that_wait_share_one_transaction_and_each_gets_its_own_recordings() -> None:
    writer = Writer()
    commit = GroupCommit(writer, max_batch=64)
    saves = [processing(Event(uuid4(), f"e{i}a"), Event(uuid4(), f"e{i}b")) for i in range(6)]
    answers = save_in_threads(commit, writer, saves)
    assert answers == [[f"e{i}a", f"e{i}b"] for i in range(6)]
    assert writer.transactions[0] == ["e0a", "e0b"]
    assert writer.transactions[1] == [n for i in range(1, 6) for n in (f"e{i}a", f"e{i}b")]
    assert commit.transactions == 2


def test_a_save_in_conflict_fails_alone_and_its_neighbours_are_written() -> None:
    writer = Writer()
    commit = GroupCommit(writer)
    saves = [processing(Event(uuid4(), "first"))]
    saves += [processing(Event(uuid4(), n)) for n in ("a", "taken", "b")]
    answers = save_in_threads(commit, writer, saves)
    assert answers[:2] == [["first"], ["a"]]
    assert isinstance(answers[2], IntegrityError)
    assert answers[3] == ["b"]
    assert writer.transactions == [["first"], ["a"], ["b"]]


def test_two_saves_of_one_aggregate_never_share_a_transaction() -> None:
    writer = Writer()
    commit = GroupCommit(writer)
    shared = uuid4()
    saves = [processing(Event(uuid4(), "first"))]
    saves += [processing(Event(shared, "v2")), processing(Event(shared, "v3"))]
    saves += [processing(Event(uuid4(), "other"))]
    answers = save_in_threads(commit, writer, saves)
    assert answers == [["first"], ["v2"], ["v3"], ["other"]]
    assert writer.transactions == [["first"], ["v2", "other"], ["v3"]]


def test_max_batch_bounds_a_transaction_and_one_writes_each_save_alone() -> None:
    writer = Writer()
    commit = GroupCommit(writer, max_batch=2)
    saves = [processing(Event(uuid4(), f"s{i}")) for i in range(5)]
    save_in_threads(commit, writer, saves)
    assert writer.transactions == [["s0"], ["s1", "s2"], ["s3", "s4"]]
    alone = Writer()
    alone.first.set()
    single = GroupCommit(alone, max_batch=1)
    assert [r.domain_event.name for r in single.save(processing(Event(uuid4(), "x")))] == ["x"]
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(alone, max_batch=0)


def test_rows_written_with_events_go_with_their_save_shared_or_alone() -> None:
    writer = Writer()
    commit = GroupCommit(writer)
    saves = [processing(Event(uuid4(), "first"), rows=("key0",))]
    saves += [processing(Event(uuid4(), "a"), rows=("keyA",)), processing(Event(uuid4(), "b"))]
    saves += [processing(Event(uuid4(), "c"), rows=("keyC",))]
    save_in_threads(commit, writer, saves)
    assert writer.transactions == [["first"], ["a", "b", "c"]]
    assert writer.rows == [["key0"], ["keyA", "keyC"]]
    writer = Writer()
    commit = GroupCommit(writer)
    saves = [processing(Event(uuid4(), "first"))]
    saves += [processing(Event(uuid4(), n), rows=(f"key{n}",)) for n in ("a", "taken", "b")]
    answers = save_in_threads(commit, writer, saves)
    assert isinstance(answers[2], IntegrityError)
    assert writer.transactions == [["first"], ["a"], ["b"]]
    assert writer.rows == [[], ["keya"], ["keyb"]]
