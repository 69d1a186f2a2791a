"""Bodies of the admin and reporting endpoints (faults, counters, events, settlements, health)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec


class FaultRuleRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    kind: str
    endpoint: str = "*"
    # webhook faults only: hit only the events about this object (a dispute's, an account's id)
    object_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    status: int | None = None
    latency_ms: Annotated[int, msgspec.Meta(ge=0, le=600_000)] | None = None
    count: Annotated[int, msgspec.Meta(ge=1)] | None = None
    until: str | None = None


class FaultRuleView(msgspec.Struct, frozen=True):
    id: int
    kind: str
    endpoint: str
    object_id: str | None
    status: int | None
    latency_ms: int | None
    remaining: int | None
    until: str | None


class FaultsAdded(msgspec.Struct, frozen=True):
    added: list[FaultRuleView]


class FaultList(msgspec.Struct, frozen=True):
    faults: list[FaultRuleView]


class ChargeCount(msgspec.Struct, frozen=True):
    reference: str
    charges: int
    succeeded: int


class PayoutCount(msgspec.Struct, frozen=True):
    reference: str
    payouts: int


class DeliveryView(msgspec.Struct, frozen=True):
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None


class EventView(msgspec.Struct, frozen=True):
    id: str
    type: str
    created: int
    data: dict[str, Any]
    deliveries: list[DeliveryView]
    delivered: bool


class EventList(msgspec.Struct, frozen=True):
    object: str
    data: list[EventView]


class SettlementFileRef(msgspec.Struct, frozen=True):
    date: str
    url: str


class SettlementFileList(msgspec.Struct, frozen=True):
    object: str
    data: list[SettlementFileRef]


class Health(msgspec.Struct, frozen=True):
    status: str
