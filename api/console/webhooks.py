"""Webhooks: every endpoint merchants and sellers registered (its URL, event types, whose
events it hears, whether enabled, its secret's generation; never the secret), and an
endpoint's deliveries, newest event first, filtered by status, with a confirmed Redeliver of
one that is not pending, and a confirmed "send failed deliveries again" of every one failed
since an instant; a merchant or the endpoint's seller may send it a test event, move it to
another URL, change its event types, disable it and enable it again. The same reads,
commands and roles as GET /webhook-endpoints, GET /webhook-endpoints/{id}/deliveries, POST
/webhook-deliveries/{id}/redeliver, POST /webhook-endpoints/{id}/recover (merchant,
operator, seller), POST /webhook-endpoints/{id}/ping, /disable, /enable and PATCH
/webhook-endpoints/{id} (merchant, seller); a seller key sees its own seller's endpoints
alone."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

import msgspec
from litestar import get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from payments.api.console.forms import FormBody, as_json_body, confirmed
from payments.api.console.pages import (
    Field,
    Page,
    chosen,
    console_access,
    given,
    instant_of,
    may,
    next_page,
    render,
)
from payments.api.parameters import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    CallerDep,
    PositionCursorQuery,
    ServicesDep,
)
from payments.api.reads import invalid, keyset_page
from payments.api.routes.webhook_deliveries import visible_delivery
from payments.api.routes.webhook_endpoints import visible
from payments.api.webhook_schemas import (
    DeliveryIdPath,
    DisableRequest,
    EndpointIdPath,
    UpdateEndpointRequest,
    delivery_body,
    endpoint_body,
)
from payments.domain.api_key import Role
from payments.domain.webhook_endpoint import EVENT_TYPES
from payments.projections.followers.webhook_deliveries import STATUSES

PAGE = Page.of("/console/webhooks", "Webhooks", Role.MERCHANT, Role.OPERATOR, Role.SELLER)
PING = (Role.MERCHANT, Role.SELLER)  # POST .../ping and PATCH /webhook-endpoints/{id}
MOVED = "Moved: every attempt from now on goes to the new URL, also of waiting deliveries."
RETYPED = "Changed: the events recorded from now on are delivered by these types."
DISABLED = "Disabled: nothing is delivered from now on; waiting deliveries are cancelled."
ENABLED = (
    "Enabled: the events recorded from now on are delivered; those its disabling cancelled "
    "can be sent again."
)
PAGE_SIZE = 50
# The delivery a redelivery just sent back, named in the page it returns to.
DeliveryField = Annotated[str | None, QueryParameter(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]
# How many failed deliveries a recovery just sent back.
RecoveredCount = Annotated[int | None, QueryParameter(ge=0, le=2**31)]


class ConfirmForm(msgspec.Struct, frozen=True):
    confirm: str = ""


class MoveForm(msgspec.Struct, frozen=True):
    url: str = ""
    description: str = ""
    confirm: str = ""


class TypesForm(msgspec.Struct, frozen=True):
    event_types: list[str] | str = []  # one ticked box arrives as a string
    confirm: str = ""


class DisableForm(msgspec.Struct, frozen=True):
    reason: str = ""
    confirm: str = ""


class RecoverForm(msgspec.Struct, frozen=True):
    since: str = ""
    confirm: str = ""


def endpoint_path(endpoint_id: str) -> str:
    return f"{PAGE.path}/{quote(endpoint_id)}"


@get("/webhooks", sync_to_thread=True, **PAGE.access)
def webhooks_page(caller: CallerDep, services: ServicesDep) -> Template:
    endpoints = services.webhooks.endpoints(
        caller.seller_account if caller.role is Role.SELLER else None
    )
    return render(
        "webhooks.html",
        caller,
        PAGE,
        endpoints=endpoints,
        links={e.endpoint_id: endpoint_path(e.endpoint_id) for e in endpoints},
    )


@get("/webhooks/{endpoint_id:str}", sync_to_thread=True, **PAGE.access)
def endpoint_page(
    endpoint_id: EndpointIdPath,
    caller: CallerDep,
    services: ServicesDep,
    status: Field = None,
    cursor: PositionCursorQuery = None,
    redelivered: DeliveryField = None,
    recovered: RecoveredCount = None,
    pinged: DeliveryField = None,
    moved: Annotated[bool | None, QueryParameter()] = None,
    retyped: Annotated[bool | None, QueryParameter()] = None,
    switched: Annotated[bool | None, QueryParameter()] = None,
) -> Template:
    endpoint = endpoint_body(visible(services, caller, endpoint_id))  # or Not found
    wanted = chosen("status", status, STATUSES)
    before = int(cursor) if cursor is not None else None
    rows = services.webhooks.deliveries.of_endpoint(endpoint_id, wanted, before, PAGE_SIZE + 1)
    shown, last = keyset_page(rows, PAGE_SIZE)
    return render(
        "webhook_endpoint.html",
        caller,
        PAGE,
        title=f"Webhook endpoint {endpoint_id}",
        endpoint=endpoint,
        deliveries=[delivery_body(d) for d in shown],
        status=wanted,
        statuses=STATUSES,
        more=next_page(given(status=wanted), "cursor", last.position if last else None),
        first_page=cursor is None,
        done=_done(redelivered, recovered, pinged)
        or (MOVED if moved else RETYPED if retyped else None)
        or ((ENABLED if endpoint.status == "enabled" else DISABLED) if switched else None),
        event_types=list(EVENT_TYPES),
        # The API refuses to send again a delivery of a disabled endpoint: none is offered.
        may_redeliver=endpoint.status == "enabled",
        may_ping=endpoint.status == "enabled" and may(caller, *PING),
        may_move=endpoint.status == "enabled" and may(caller, *PING),
        may_switch=may(caller, *PING),  # disable an enabled one, enable a disabled one
    )


@post("/webhooks/deliveries/{delivery_id:str}/redeliver", sync_to_thread=True, **PAGE.access)
def redeliver(
    delivery_id: DeliveryIdPath,
    data: FormBody[ConfirmForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    """As POST /webhook-deliveries/{id}/redeliver: a pending delivery, or one of a disabled
    endpoint, is refused (409)."""
    confirmed(data.confirm, "that this delivery is sent again")
    visible_delivery(services, caller, delivery_id)
    delivery = services.webhooks.redeliver(delivery_id, by=caller.key_id)
    back = urlencode({"redelivered": delivery_id})
    return Redirect(f"{endpoint_path(delivery.endpoint_id)}?{back}", status_code=303)


@post("/webhooks/{endpoint_id:str}/recover", sync_to_thread=True, **PAGE.access)
def recover(
    endpoint_id: EndpointIdPath,
    data: FormBody[RecoverForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    """As POST /webhook-endpoints/{id}/recover: a disabled endpoint is refused (409)."""
    confirmed(data.confirm, "that these deliveries are sent again")
    visible(services, caller, endpoint_id)
    since = instant_of(data.since, "since")
    if since is None:
        raise invalid("since", "is required: the instant from which failed deliveries are sent")
    count = services.webhooks.recover(endpoint_id, since, by=caller.key_id)
    return Redirect(f"{endpoint_path(endpoint_id)}?recovered={count}", status_code=303)


@post("/webhooks/{endpoint_id:str}/move", sync_to_thread=True, **console_access(*PING))
def move(
    endpoint_id: EndpointIdPath,
    data: FormBody[MoveForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    """As PATCH /webhook-endpoints/{id}: checked as at registration (422), refused for a
    disabled endpoint (409)."""
    confirmed(data.confirm, "the new URL")
    visible(services, caller, endpoint_id)
    body = as_json_body(
        UpdateEndpointRequest, "url", url=data.url.strip(), description=data.description.strip()
    )
    services.webhooks.commands.update(endpoint_id, body.url, body.description, by=caller.key_id)
    return Redirect(f"{endpoint_path(endpoint_id)}?moved=true", status_code=303)


@post("/webhooks/{endpoint_id:str}/types", sync_to_thread=True, **console_access(*PING))
def change_types(
    endpoint_id: EndpointIdPath,
    data: FormBody[TypesForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    """As PATCH /webhook-endpoints/{id} with event_types: the whole list from now on (422
    for none, or one an endpoint of one seller cannot hear), refused when disabled (409)."""
    confirmed(data.confirm, "the new event types")
    visible(services, caller, endpoint_id)
    ticked = [data.event_types] if isinstance(data.event_types, str) else data.event_types
    body = as_json_body(UpdateEndpointRequest, "event_types", event_types=ticked)
    types = list(body.event_types or [])
    services.webhooks.commands.update(endpoint_id, None, None, caller.key_id, types)
    return Redirect(f"{endpoint_path(endpoint_id)}?retyped=true", status_code=303)


@post("/webhooks/{endpoint_id:str}/ping", sync_to_thread=True, **console_access(*PING))
def ping(
    endpoint_id: EndpointIdPath,
    data: FormBody[ConfirmForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    """As POST /webhook-endpoints/{id}/ping: a disabled endpoint is refused (409)."""
    confirmed(data.confirm, "that a test event is sent")
    visible(services, caller, endpoint_id)
    _, delivery_id = services.webhooks.ping(endpoint_id, by=caller.key_id)
    back = urlencode({"pinged": delivery_id})
    return Redirect(f"{endpoint_path(endpoint_id)}?{back}", status_code=303)


@post("/webhooks/{endpoint_id:str}/disable", sync_to_thread=True, **console_access(*PING))
def disable(
    endpoint_id: EndpointIdPath,
    data: FormBody[DisableForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    """As POST /webhook-endpoints/{id}/disable: a reason of 1 to 500 characters, or none
    (the API's default); refused when disabled already (409)."""
    confirmed(data.confirm, "that nothing more is delivered")
    visible(services, caller, endpoint_id)
    fields = {"reason": data.reason.strip()} if data.reason.strip() else {}
    body = as_json_body(DisableRequest, "reason", **fields)
    services.webhooks.commands.disable(endpoint_id, body.reason, by=caller.key_id)
    return Redirect(f"{endpoint_path(endpoint_id)}?switched=true", status_code=303)


@post("/webhooks/{endpoint_id:str}/enable", sync_to_thread=True, **console_access(*PING))
def enable(
    endpoint_id: EndpointIdPath,
    data: FormBody[ConfirmForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    """As POST /webhook-endpoints/{id}/enable: refused unless disabled (409)."""
    confirmed(data.confirm, "that deliveries start again")
    visible(services, caller, endpoint_id)
    services.webhooks.enable(endpoint_id, by=caller.key_id)
    return Redirect(f"{endpoint_path(endpoint_id)}?switched=true", status_code=303)


def _done(redelivered: str | None, recovered: int | None, pinged: str | None) -> str | None:
    if pinged:
        return (
            f"A test event is on its way: delivery {pinged}, listed here once the worker has "
            "made it."
        )
    if redelivered:
        return f"Sent {redelivered} back: it is pending, due now, its attempts counted afresh."
    if recovered is not None:
        return (
            f"{recovered} failed or cancelled deliveries sent back: pending, due now, their "
            "attempts counted afresh."
        )
    return None


HANDLERS = [
    webhooks_page, endpoint_page, redeliver, recover, move, change_types, ping, disable, enable,
]  # fmt: skip
