"""GET /events: the public events, oldest first after a position, as webhook endpoints receive
them (projections/public_events.py, docs/webhooks.md): for a receiver that missed some, or
one that polls instead of listening. GET /events/{event_id}: one of them, for a receiver that
checks with us what a delivery told it. A seller key reads the events about its own seller."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from payments.api.auth import access
from payments.api.openapi import spec
from payments.api.parameters import CallerDep, IdQuery, LimitQuery, ServicesDep, business_id
from payments.api.problems import ProblemError
from payments.api.reads import not_found, seller_scope
from payments.domain.api_key import Role
from payments.domain.webhook_endpoint import EVENT_TYPES
from payments.projections.public_events import WINDOW, IndexBehind, public_event, public_events
from payments.projections.source import ApplicationEventSource
from payments.runtime.keys import Caller
from payments.runtime.services import Services

AfterQuery = Annotated[
    int,
    QueryParameter(
        ge=0,
        le=10**15,  # exact as a JSON number (below 2**53); positions never get there
        description="The position to list after: 0 (the default) for the start of the log, "
        "then the previous page's next_after.",
    ),
]
EventTypeQuery = Annotated[
    str | None,
    QueryParameter(
        name="type",
        pattern=f"^({'|'.join(map(re.escape, EVENT_TYPES))})$",
        description="Only the events of this type.",
        schema_extra={"enum": list(EVENT_TYPES)},
    ),
]

EventIdPath = Annotated[str, business_id("event id", "evt_0123456789abcdef0123456789abcdef")]


class PublicEvent(msgspec.Struct, frozen=True):
    """An event as a webhook delivery of it sends it (the same id, type and data)."""

    id: str
    type: str
    created: str
    position: int
    data: dict[str, Any]


class EventPage(msgspec.Struct, frozen=True):
    items: list[PublicEvent]
    next_after: int  # where the next page starts: after this position
    has_more: bool  # the log went on past next_after when this page was read


def visible_event(services: Services, caller: Caller, event_id: str) -> dict[str, Any] | None:
    """The public event of this id, if the caller may read it (a seller key: one about its
    own seller); a 503 problem while the index of event ids fills after an upgrade."""
    try:
        return public_event(
            services.application,
            services.pool,
            ApplicationEventSource(services.application),
            event_id,
            seller_account=seller_scope(caller, None),
        )
    except IndexBehind as behind:
        raise ProblemError(
            503,
            "view-not-caught-up",
            "The index of event ids has not caught up yet",
            f"{behind}; retry shortly.",
            headers={"retry-after": "5"},
        ) from None


class EventsController(Controller):
    path = "/events"
    tags = ["webhooks"]

    @get(
        "/",
        **spec(
            "listEvents",
            "The public events, oldest first after a position (what webhooks deliver)",
            problems=(404, 422),
        ),
        description="Each item is the body a webhook delivery of the event sends: the same "
        "id (a receiver's key for 'seen it already'), type, created, position and data, "
        "listed whether or not an endpoint heard it. Pages: after (a position; 0 for the "
        "start) and limit (1-200, default 50); go on from next_after while has_more. A page "
        f"reads at most {WINDOW:,} positions of the log, so it may hold fewer items than "
        "asked for (none, for a rare type), and has_more still says whether to go on. "
        "Filters: type, seller_account (the events about that seller, as an endpoint of "
        "one seller hears them; a seller key: its own, another's 404).",
        **access(Role.MERCHANT, Role.OPERATOR, Role.SELLER),
    )
    def list_events(
        self,
        services: ServicesDep,
        caller: CallerDep,
        after: AfterQuery = 0,
        limit: LimitQuery = 50,
        event_type: EventTypeQuery = None,
        seller_account: IdQuery = None,
    ) -> EventPage:
        page = public_events(
            services.application,
            services.pool,
            ApplicationEventSource(services.application),
            after=after,
            limit=limit,
            event_type=event_type,
            seller_account=seller_scope(caller, seller_account),
        )
        return EventPage(
            [msgspec.convert(event, PublicEvent) for event in page.events],
            page.next_after,
            page.more,
        )

    @get(
        "/{event_id:str}",
        **spec(
            "getEvent",
            "A public event by its id (what a webhook delivery of it sends)",
            problems=(404, 422, 503),
        ),
        description="The body every delivery of the event sends, read again from the log: a "
        "receiver can check with us what a delivery told it before acting on it. Any event "
        "GET /events lists, whether or not an endpoint heard it; 404 for an id that is none "
        "of them (or, for a seller key, an event about another seller). An event is found "
        "from the moment it is recorded; 503 (Retry-After) while the index of event ids "
        f"catches up after an upgrade and is over {WINDOW:,} events behind the log.",
        **access(Role.MERCHANT, Role.OPERATOR, Role.SELLER),
    )
    def get_event(
        self, event_id: EventIdPath, services: ServicesDep, caller: CallerDep
    ) -> PublicEvent:
        event = visible_event(services, caller, event_id)
        if event is None:
            raise not_found(f"event {event_id!r}")
        return msgspec.convert(event, PublicEvent)
