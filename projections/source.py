"""Where views read events: the application's notification log, woken by LISTEN/NOTIFY."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from payments.projections.core import TrackedEvent


class EventSource(Protocol):
    def head(self) -> int:
        """The last notification id recorded (0 when the log is empty)."""
        ...

    def read(
        self, after: int, through: int, limit: int, topics: frozenset[str] | None
    ) -> Sequence[Notification]:
        """Up to `limit` notifications with after < id <= through, in order."""
        ...

    def decode(self, notification: Notification) -> TrackedEvent: ...

    def event_time(self, notification_id: int) -> datetime | None:
        """When the first event after notification_id happened (None if there is none)."""
        ...

    def wait_for_news(self, timeout: float) -> None:
        """Return when new events may have been recorded, or after timeout seconds."""
        ...

    def close(self) -> None: ...


NOTIFY_DRAIN_MAX = 100_000  # notifications taken at most per wake-up


class ApplicationEventSource:
    """Reads an eventsourcing Application's notification log; LISTENs when given a URL."""

    def __init__(self, application: Application[Any], database_url: str | None = None) -> None:
        self.recorder: Any = application.recorder
        self.mapper = application.mapper
        self._database_url = database_url
        self._listener: psycopg.Connection[Any] | None = None

    def head(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def read(
        self, after: int, through: int, limit: int, topics: frozenset[str] | None
    ) -> Sequence[Notification]:
        if through <= after:
            return []
        notifications: Sequence[Notification] = self.recorder.select_notifications(
            start=after + 1, limit=limit, stop=through, topics=sorted(topics or ())
        )
        return notifications

    def decode(self, notification: Notification) -> TrackedEvent:
        return TrackedEvent(
            notification.id, notification.topic, self.mapper.to_domain_event(notification)
        )

    def event_time(self, notification_id: int) -> datetime | None:
        found = self.recorder.select_notifications(start=notification_id + 1, limit=1)
        if not found:
            return None
        try:
            timestamp = self.decode(found[0]).event.timestamp
        except Exception:  # a poisoned event: its time is unknown too
            return None
        return timestamp if isinstance(timestamp, datetime) else None

    def wait_for_news(self, timeout: float) -> None:
        if self._database_url is None:
            time.sleep(min(timeout, 0.05))
            return
        try:
            if self._listener is None:
                self._listen()
                return  # listening from now on: the caller re-reads the head first
            listener = self._listen()
            for _ in listener.notifies(timeout=timeout, stop_after=1):
                break
            # Every commit notifies: take what is queued too, so that one wake-up stands for
            # all the commits so far (the caller reads the head next), not one each.
            for _ in listener.notifies(timeout=0, stop_after=NOTIFY_DRAIN_MAX):
                pass
        except psycopg.Error:
            self.close()  # reconnect next time; meanwhile poll
            time.sleep(min(timeout, 0.5))

    def _listen(self) -> psycopg.Connection[Any]:
        if self._listener is None or self._listener.closed:
            assert self._database_url is not None
            conn = psycopg.connect(self._database_url, autocommit=True)
            conn.execute(f'LISTEN "{self.recorder.channel_name}"')
            self._listener = conn
        return self._listener

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(psycopg.Error):
                self._listener.close()
            self._listener = None
