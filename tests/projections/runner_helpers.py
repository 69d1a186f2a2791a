"""What the runner tests share: a source that counts its reads and decodes, and a poisoned
event at the head of the log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from eventsourcing.persistence import Notification, StoredEvent

from payments.bench.history import make_history
from payments.domain.application import PaymentsApplication
from payments.domain.payment_order import PaymentOrder
from payments.projections.core import TrackedEvent
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services
from tests.projections.events import new_order


class CountingSource(ApplicationEventSource):
    """The real source, counting what it decodes and how many reads it makes."""

    def __init__(self, services: Services, *, listen: bool = False) -> None:
        super().__init__(services.application, services.database_url if listen else None)
        self.decoded: Counter[int] = Counter()
        self.reads = 0

    def read(
        self, after: int, through: int, limit: int, topics: frozenset[str] | None
    ) -> Sequence[Notification]:
        self.reads += 1
        return super().read(after, through, limit, topics)

    def decode(self, notification: Notification) -> TrackedEvent:
        self.decoded[notification.id] += 1
        return super().decode(notification)


SUCCEEDED = "payments.PaymentOrder.Succeeded.v1"


def record_a_poisoned_success(app: PaymentsApplication) -> None:
    """A `Succeeded` event no code can decode, at the head of the log."""
    originator_id = app.mapper.to_stored_event(a_created_event()).originator_id
    app.recorder.insert_events([StoredEvent(originator_id, 1, SUCCEEDED, b'{"not": "an event"}')])


def a_poisoned_history(app: PaymentsApplication, before: int, after: int, seed: int) -> int:
    """`before` orders' history, a poisoned success, then `after` orders' more; answers the
    position of the last good event before the poisoned one."""
    make_history(app, before, seed=seed)
    good_head = app.recorder.max_notification_id() or 0
    record_a_poisoned_success(app)
    make_history(app, after, seed=seed + 1, prefix="after")
    return int(good_head)


def a_created_event() -> PaymentOrder.Created:
    event = new_order("po_poison", amount=1, checkout="co_poison").collect_events()[0]
    assert isinstance(event, PaymentOrder.Created)
    return event
