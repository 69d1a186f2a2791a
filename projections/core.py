"""What every projection shares: tracked events, the view protocol and its errors.

A projection is a function (event, tracking) -> view change. Ours take a *batch* of events and
the position they bring the view to, and apply both in one transaction (docs/projections.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# The application whose notification log feeds every view (PaymentsApplication.name).
APPLICATION_NAME = "Payments"


@dataclass(frozen=True, slots=True)
class TrackedEvent:
    """A domain event with its position in the notification log and its stored topic."""

    notification_id: int
    topic: str
    event: Any  # an eventsourcing domain event object (Aggregate.Event subclass)

    @property
    def event_id(self) -> str:
        """The event's identity: its aggregate id and version ("<uuid>:<version>")."""
        return f"{self.event.originator_id}:{self.event.originator_version}"


class ProjectionView(Protocol):
    """A materialised view that applies batches of events exactly once.

    `position()` is the last notification id the view accounts for. `apply_batch` applies
    `events` (all with after < notification_id <= through, in order) and moves the position
    from `after` to `through` atomically; if the position is not `after` it changes nothing
    and raises TrackingConflict.
    """

    @property
    def name(self) -> str: ...

    @property
    def topics(self) -> frozenset[str] | None:
        """The stored topics this view reads, or None for every event."""
        ...

    def position(self) -> int: ...

    def apply_batch(self, events: Sequence[TrackedEvent], *, after: int, through: int) -> None: ...


class TrackingConflict(RuntimeError):
    """The view's position was not where the writer expected: someone else moved it."""

    def __init__(self, name: str, expected: int, found: int) -> None:
        super().__init__(f"projection {name}: expected position {expected}, found {found}")
        self.expected = expected
        self.found = found


class UnapplicableEvent(ValueError):
    """An event a view cannot apply (its rules refuse it); the runner marks it poisoned."""


class ProjectionPoisoned(RuntimeError):
    """A projection stopped at an event it cannot apply; nothing after it was applied."""

    def __init__(self, name: str, notification_id: int, reason: str) -> None:
        super().__init__(f"projection {name} poisoned at notification {notification_id}: {reason}")
        self.name = name
        self.notification_id = notification_id
        self.reason = reason


def check_batch(events: Sequence[TrackedEvent], after: int, through: int) -> None:
    """Refuse a batch whose events are not strictly inside (after, through], in order."""
    if through < after:
        raise ValueError(f"through {through} is before after {after}")
    previous = after
    for tracked in events:
        if not previous < tracked.notification_id <= through:
            raise ValueError(
                f"notification {tracked.notification_id} is out of order in ({after}, {through}]"
            )
        previous = tracked.notification_id


class InMemoryView(ABC):
    """The position bookkeeping of a view held in dictionaries (tests and contract suites):
    a subclass names itself and folds a checked batch in `_fold`, all or nothing."""

    name: str

    def __init__(self) -> None:
        self._position = 0

    def position(self) -> int:
        return self._position

    def apply_batch(self, events: Sequence[TrackedEvent], *, after: int, through: int) -> None:
        check_batch(events, after, through)
        if self._position != after:
            raise TrackingConflict(self.name, after, self._position)
        self._fold(events)
        self._position = through

    @abstractmethod
    def _fold(self, events: Sequence[TrackedEvent]) -> None:
        """Apply the batch, or raise and change nothing."""
