"""What a merchant's endpoint receives: one JSON object per event (ADR 0027, docs/webhooks.md).

```
{"id": "evt_…", "type": "payment_order.succeeded", "created": "2026-12-07T03:04:05.123456Z",
 "position": 1234, "data": {"object": "payment_order", "payment_order_id": "…", …}}
```

`id` is derived from the stored event (its aggregate and version), so it is the same in
every delivery, redelivery and rebuild: the receiver's key for "seen it already". `data`
holds the object's terms as it was created (ids, seller, amount as a decimal string) and what
this event says (status, reason); not the object's state now, which may have moved on: a
receiver that needs that reads it from the API (`url`).
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from payments.domain.execution_events import FailureCode
from payments.domain.money import format_minor
from payments.domain.payment_order import PaymentOrder
from payments.projections.core import TrackedEvent

# The event id's namespace: fixed forever, or every event id would change.
_EVENT_NAMESPACE = uuid5(NAMESPACE_URL, "https://payments.dev/webhook-events")
EVENT_ID_PREFIX = "evt_"  # then the 32 hex digits of a uuid5 (projections/views/public_event_ids)

# Per object: the terms copied from the event that created it, the URL a receiver reads it
# at, and the status each event type means.
_TERMS: dict[str, tuple[str, ...]] = {
    "payment_order": ("payment_order_id", "checkout_id", "seller_account"),
    "checkout": ("checkout_id", "payment_order_ids"),
    "refund": ("refund_id", "payment_order_id", "seller_account"),
    "dispute": (
        "payment_order_id",
        "psp_dispute_id",
        "seller_account",
        "reason",
        "evidence_due_by",  # the answer is due by then, or the dispute is lost
    ),
    "payout": ("payout_id", "seller_account"),
    "seller": ("seller_account",),
    "webhook_endpoint": ("endpoint_id",),  # a test event (ping)
}
_URLS: dict[str, str] = {
    "payment_order": "/payments/{payment_order_id}",
    "checkout": "/checkouts/{checkout_id}",
    "refund": "/refunds/{refund_id}",
    "dispute": "/payments/{payment_order_id}/dispute",
    "payout": "/payouts/{payout_id}",
    "seller": "/sellers/{seller_account}",
    "webhook_endpoint": "/webhook-endpoints/{endpoint_id}",
}
_STATUS: dict[str, str] = {
    "payment_order.succeeded": "SUCCESS",
    "payment_order.failed": "FAILED",
    "refund.succeeded": "SUCCEEDED",
    "refund.failed": "FAILED",
    "dispute.opened": "needs_response",
    "dispute.reopened": "lost",  # a second chargeback: lost after all
    "dispute.won": "won",
    "dispute.lost": "lost",
    "payout.paid": "PAID",
    "payout.failed": "FAILED",
    "payout.returned": "RETURNED",
}
# What the event itself says, where it says it, under the name the data gives it.
_EVENT_FIELDS = (
    ("psp_reference", "psp_reference"),
    ("code", "failure_code"),
    ("succeeded", "succeeded"),
    ("failed", "failed"),
)


def event_id_of(tracked: TrackedEvent) -> str:
    """The public id of a stored event: the same for every delivery of it, forever."""
    return event_id_for(tracked.event.originator_id, tracked.event.originator_version)


def event_id_for(originator_id: UUID | str, version: int) -> str:
    """The public id of the event an aggregate recorded at this version (as `event_id_of`
    will say once the event is followed)."""
    return EVENT_ID_PREFIX + event_uuid_for(originator_id, version).hex


def event_uuid_for(originator_id: UUID | str, version: int) -> UUID:
    """The uuid a public event id spells after its prefix."""
    return uuid5(_EVENT_NAMESPACE, f"{originator_id}:{version}")


def delivery_id_of(event_id: str, endpoint_id: str) -> str:
    return "whd_" + uuid5(_EVENT_NAMESPACE, f"{event_id}:{endpoint_id}").hex


def data_of(event_type: str, event: Any, created: Any) -> dict[str, Any]:
    """The event's `data`: the object's terms (from `created`, the event that made it) and
    what `event` says."""
    kind = event_type.split(".", 1)[0]
    data: dict[str, Any] = {"object": kind}
    for name in _TERMS[kind]:
        if hasattr(created, name):
            value = getattr(created, name)
            data[name] = list(value) if isinstance(value, list) else value
    if hasattr(created, "amount_minor") and hasattr(created, "currency"):
        data["amount"] = format_minor(created.amount_minor, created.currency)
        data["currency"] = created.currency
    if kind == "dispute":
        data["fee"] = format_minor(created.fee_minor, created.currency)
    if event_type in _STATUS:
        data["status"] = _STATUS[event_type]
    elif event_type == "seller.kyc_decided":
        data["kyc_status"] = event.status
    for attribute, name in _EVENT_FIELDS:
        value = getattr(event, attribute, None)
        if value is not None:
            data[name] = getattr(value, "value", value)  # an enum's value
    reason = getattr(event, "reason", None)
    blocked = PaymentOrder.risk_block_of(event)
    if blocked is not None:  # the order's own failure code and reason
        data["failure_code"] = FailureCode.BLOCKED_BY_RISK.value
        data["failure_reason"] = blocked
    elif reason is not None and kind in ("payment_order", "refund", "payout"):
        data["failure_reason"] = reason
    elif reason is not None and kind == "seller":
        data["reason"] = reason
    data["url"] = _URLS[kind].format_map(data)
    return data


def envelope_of(tracked: TrackedEvent, event_type: str, created: Any) -> dict[str, Any]:
    """The public event: what every delivery of it sends, and what GET /events lists."""
    event = tracked.event
    return {
        "id": event_id_of(tracked),
        "type": event_type,
        "created": event.timestamp.isoformat().replace("+00:00", "Z"),
        "position": tracked.notification_id,
        "data": data_of(event_type, event, created),
    }


def body_of(tracked: TrackedEvent, event_type: str, created: Any) -> bytes:
    """The JSON body every delivery of this event to any endpoint sends."""
    return msgspec.json.encode(envelope_of(tracked, event_type, created))
