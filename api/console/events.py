"""Events: the public events, newest first, as webhook deliveries send them (each one's type,
what it is about, its body), filtered by type and seller and paged back through the log; and
one event found by the id a delivery gave. The same reads and roles as GET /events and GET
/events/{event_id} (projections/public_events.py); a seller key sees the events about its
own seller alone."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import QueryParameter
from litestar.response import Template

from payments.api.console.orders import id_field, order_links
from payments.api.console.pages import (
    CallerDep,
    Field,
    Page,
    ServicesDep,
    chosen,
    given,
    next_page,
    render,
)
from payments.api.reads import seller_scope
from payments.api.routes.events import visible_event
from payments.domain.api_key import Role
from payments.domain.webhook_endpoint import EVENT_TYPES
from payments.projections.public_events import public_events
from payments.projections.source import ApplicationEventSource
from payments.runtime.keys import Caller
from payments.runtime.services import Services

PAGE = Page.of("/console/events", "Events", Role.MERCHANT, Role.OPERATOR, Role.SELLER)
PAGE_SIZE = 50
WINDOW = 10_000  # positions of the log a page reads at most, newest first
TYPES = tuple(EVENT_TYPES)
READ = 200  # events asked for at a time within the window
# A page starts below this position (the oldest one the previous page showed).
BeforeQuery = Annotated[int | None, QueryParameter(ge=1, le=10**15)]
TypeField = Annotated[str | None, QueryParameter(name="type", max_length=200)]


@dataclass(frozen=True, slots=True)
class Shown:
    event: dict[str, Any]  # the envelope, as a delivery sends it
    body: str  # the same, indented, for reading

    @property
    def about(self) -> str:
        return str(self.event["data"].get("url", self.event["data"].get("object", "")))


@get("/events", sync_to_thread=True, **PAGE.access)
def events_page(
    caller: CallerDep,
    services: ServicesDep,
    event_type: TypeField = None,
    seller: Field = None,
    event: Field = None,
    before: BeforeQuery = None,
) -> Template:
    kind = chosen("type", event_type, TYPES)
    seller_account = seller_scope(caller, id_field("seller", seller))
    kept = given(type=kind, seller=seller_account if caller.role is not Role.SELLER else None)
    if event:
        return _one(caller, services, event.strip(), kept)
    source = ApplicationEventSource(services.application)
    end = source.head() if before is None else min(before - 1, source.head())
    start = max(0, end - WINDOW)
    newest: deque[dict[str, Any]] = deque(maxlen=PAGE_SIZE)
    after = start
    while after < end:
        page = public_events(
            services.application,
            services.pool,
            source,
            after=after,
            limit=READ,
            event_type=kind,
            seller_account=seller_account,
            window=end - after,
        )
        newest.extend(page.events)
        if page.next_after <= after:
            break
        after = page.next_after
    shown = [_shown(e) for e in reversed(newest)]
    older = shown[-1].event["position"] if len(shown) == PAGE_SIZE else start + 1
    return _render(
        caller,
        kept,
        events=shown,
        span=(start + 1, end),
        more=next_page(kept, "before", older if older > 1 else None),
        first_page=before is None,
    )


def _one(caller: Caller, services: Services, event_id: str, kept: dict[str, str]) -> Template:
    """The event of this id, or a note that none is shown (never another seller's)."""
    found = visible_event(services, caller, event_id)
    if found is None:
        return _render(caller, kept, asked=event_id, note=f"No event {event_id} to show.")
    return _render(caller, kept, asked=event_id, events=[_shown(found)], first_page=True)


def _shown(event: dict[str, Any]) -> Shown:
    return Shown(event, msgspec.json.format(msgspec.json.encode(event), indent=2).decode())


def _render(caller: Caller, kept: dict[str, str], **page: Any) -> Template:
    events: list[Shown] = page.pop("events", [])
    orders = {
        s.event["id"]: s.event["data"]["payment_order_id"]
        for s in events
        if "payment_order_id" in s.event["data"]
    }
    return render(
        "events.html",
        caller,
        PAGE,
        query=kept,
        types=TYPES,
        events=events,
        links=order_links(caller, orders),
        may_search=caller.role is not Role.SELLER,
        **{"asked": None, "note": None, "span": None, "more": None, "first_page": True, **page},
    )


HANDLERS = [events_page]
