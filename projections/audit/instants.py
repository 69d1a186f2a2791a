"""Reading the event log for audits: instants, one aggregate's events, the unapplied tail.

DESIGN §10: "as of an instant" means every event whose recorded timestamp is at or before the
instant, applied in notification order. The helpers here parse such instants strictly and
read events with their notification ids (positions), decoded by the application's mapper.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import Application

from payments.projections.core import TrackedEvent
from payments.projections.source import ApplicationEventSource

# The most unapplied events an as-of answer replays itself before it gives up (503).
TAIL_LIMIT = 10_000

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?$",
    re.ASCII,
)


class InstantError(ValueError):
    """An instant that cannot be used: unparseable, without offset, or in the future."""


class AsOfUnavailable(RuntimeError):
    """The view is too far behind (or stopped) to answer as of an instant; retry later."""


def parse_instant(
    text: str, *, now: datetime | None = None, allow_future: bool = False
) -> datetime:
    """An RFC 3339 date-time with an offset, as an aware UTC datetime; not in the future."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise InstantError(
            "must be an RFC 3339 date-time with an offset, e.g. 2025-01-31T12:00:00Z"
        )
    if match.group("offset") is None:
        raise InstantError("has no UTC offset: add Z or +hh:mm (a naive time is ambiguous)")
    try:
        instant = datetime.fromisoformat(text.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        raise InstantError("is not a valid date-time") from None
    instant = instant.astimezone(UTC)
    if not allow_future and instant > (now or datetime.now(UTC)):
        raise InstantError("is in the future: history is only known up to now")
    return instant


def format_instant(instant: datetime) -> str:
    """One stable text form: UTC, microseconds, 'Z' (for reports that must be byte-identical)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unapplied_tail(
    application: Application[Any],
    after: int,
    topics: frozenset[str] | None,
    *,
    what: str,
) -> tuple[int, Sequence[TrackedEvent]]:
    """(head, the events after a view's position up to the head), or AsOfUnavailable."""
    source = ApplicationEventSource(application)
    head = source.head()
    notifications = source.read(after, head, TAIL_LIMIT + 1, topics)
    if len(notifications) > TAIL_LIMIT:
        raise AsOfUnavailable(
            f"the {what} view is more than {TAIL_LIMIT} events behind the log "
            f"(position {after}, head {head}); retry when it has caught up"
        )
    try:
        return head, [source.decode(n) for n in notifications]
    except Exception as error:  # an event this code cannot read: the view is stuck there too
        raise AsOfUnavailable(f"the {what} view cannot read an event after {after}") from error
