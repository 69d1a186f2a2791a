"""An event holding U+0000, made storable for a view that failed to write it.

PostgreSQL's text cannot hold U+0000, and the log can (its events are stored as bytes): an
event that reached the log holding one (from before the API refused it, or from a PSP's
answer) failed the view that stores that text, which then stopped there, poisoned. The
runner now gives such a view a copy whose strings hold U+FFFD where the event had U+0000;
the log keeps the event as it was recorded. Only after the event failed alone, so the usual
path costs nothing; rebuilds and verifications go the same way, so a view and its rebuild
agree.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from payments.projections.core import TrackedEvent

NUL = "\x00"
REPLACEMENT = "\ufffd"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_nul(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_holds_nul(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def without_nul(value: Any) -> Any:
    """`value` with U+0000 replaced by U+FFFD in every string it holds (a copy where any)."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT)
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*(without_nul(item) for item in value))
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(without_nul(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value)]
        return _with_fields(value, {name: getattr(value, name) for name in names})
    return value


def _with_fields(value: Any, fields: dict[str, Any]) -> Any:
    """A shallow copy of `value` (frozen or not) with the fields holding U+0000 cleaned."""
    made = copy.copy(value)
    for name, field in fields.items():
        if _holds_nul(field):
            object.__setattr__(made, name, without_nul(field))
    return made


def storable(tracked: TrackedEvent) -> TrackedEvent | None:
    """A copy of the event with U+0000 replaced by U+FFFD, or None when it holds none (what
    failed it is something else)."""
    fields = getattr(tracked.event, "__dict__", None)
    if not fields or not any(_holds_nul(value) for value in fields.values()):
        return None
    return TrackedEvent(tracked.notification_id, tracked.topic, _with_fields(tracked.event, fields))
