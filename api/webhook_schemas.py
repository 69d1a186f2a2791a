"""The webhook endpoints' and deliveries' request and answer bodies, path and query
parameters (api/routes/webhook_endpoints.py and the console's pages share them)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.params import KwargDefinition, QueryParameter

from payments.api.parameters import DATE_TIME, business_id
from payments.api.schemas import Duration, Identifier, Reason
from payments.domain.webhook_endpoint import (
    EVENT_TYPES,
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
    WebhookEndpoint,
)
from payments.projections.followers.webhook_deliveries import STATUSES, Delivery
from payments.projections.views.webhook_endpoints import EndpointRow

EndpointIdPath = Annotated[str, business_id("webhook endpoint id", "we_0123456789abcdef01234567")]
DeliveryIdPath = Annotated[
    str, business_id("webhook delivery id", "whd_0123456789abcdef0123456789abcdef")
]
DeliveryStatusQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=f"^({'|'.join(STATUSES)})$",
        description="Only deliveries in this status.",
        schema_extra={"enum": list(STATUSES)},
    ),
]


class _HashableKwarg(KwargDefinition):
    """A KwargDefinition hashed by identity: Litestar's is a frozen dataclass hashed by its
    fields, and a dict among them fails the hash that `X | None` takes of every `X`."""

    __hash__ = object.__hash__


# The names as an enum in the OpenAPI document (Litestar drops a list item's msgspec.Meta
# there), and as a pattern msgspec checks: the same set, each name matched literally.
EventType = Annotated[
    str,
    msgspec.Meta(pattern=f"^({'|'.join(map(re.escape, EVENT_TYPES))})$"),
    _HashableKwarg(schema_extra={"enum": list(EVENT_TYPES)}),
]


EndpointUrl = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="Where deliveries are POSTed: https:// (plain http only outside "
        "production mode), no user name or password, no #fragment.",
        examples=["https://shop.example/payments-webhooks"],
    ),
]
Description = Annotated[
    str, msgspec.Meta(max_length=MAX_DESCRIPTION_LENGTH, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")
]


EventTypes = Annotated[
    list[EventType],
    msgspec.Meta(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description="Each at most once.",
        # Litestar puts "extra" into the field's OpenAPI schema: no name twice (422).
        extra_json_schema={"extra": {"uniqueItems": True}},
    ),
]


class CreateEndpointRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: EndpointUrl
    event_types: EventTypes
    description: Description = ""
    # None: every seller's events (a merchant's endpoint); a seller key's endpoint is always
    # its own seller's, named or not.
    seller_account: Identifier | None = None


class UpdateEndpointRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """PATCH /webhook-endpoints/{id}: what changes (a field left out stays as it is)."""

    url: EndpointUrl | None = None
    description: Description | None = None
    # The types it hears from now on (all of them: not added to those it has).
    event_types: EventTypes | None = None


class RotateSecretRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    overlap: Duration = "24h"


class DisableRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason = "disabled by the merchant"


class RecoverRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # A string read by api/reads.parse_instant, as the lists' created_from: a datetime field
    # would also take a number (seconds since 1970) from Litestar's lenient decoding.
    since: Annotated[
        str,
        msgspec.Meta(
            max_length=40,
            description="Failed deliveries made at or after this instant (RFC 3339, with an "
            "offset) are sent again.",
            examples=["2026-12-06T00:00:00Z"],
            extra_json_schema={"extra": DATE_TIME},  # Litestar reads "extra" here
        ),
    ]


class RecoverResponse(msgspec.Struct, frozen=True):
    endpoint_id: str
    since: datetime  # as given
    redelivered: int  # failed deliveries made pending again
    deliveries_url: str


class PingResponse(msgspec.Struct, frozen=True):
    endpoint_id: str
    event_id: str  # the test event's id, as its body says
    delivery_id: str
    delivery_url: str  # readable once the worker has made the delivery (normally at once)


class EndpointResponse(msgspec.Struct, frozen=True):
    endpoint_id: str
    url: str
    event_types: list[str]
    description: str
    status: str  # enabled | disabled
    secret_generation: int
    secret_url: str
    deliveries_url: str
    created_at: datetime | None = None
    disabled_reason: str | None = None
    seller_account: str | None = None  # None: it hears every seller's events


class EndpointList(msgspec.Struct, frozen=True):
    items: list[EndpointResponse]


class SecretView(msgspec.Struct, frozen=True):
    generation: int
    secret: str
    signs_until: datetime | None  # None: the current secret


class SecretsResponse(msgspec.Struct, frozen=True):
    """The secrets deliveries are signed with now: check a signature against each."""

    endpoint_id: str
    secrets: list[SecretView]


class DeliveryResponse(msgspec.Struct, frozen=True):
    delivery_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    position: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    event: dict[str, Any] | None = None


class DeliveryPage(msgspec.Struct, frozen=True):
    items: list[DeliveryResponse]
    next_cursor: str | None


def endpoint_body(endpoint: WebhookEndpoint | EndpointRow) -> EndpointResponse:
    """An endpoint as the API answers it, from its aggregate or from the endpoints' view."""
    eid = endpoint.endpoint_id
    if isinstance(endpoint, WebhookEndpoint):
        disabled, generation = endpoint.disabled, endpoint.generation
        created_at: datetime | None = endpoint.created_on
    else:
        disabled, generation = endpoint.disabled_at is not None, endpoint.secret_generation
        created_at = endpoint.created_at
    return EndpointResponse(
        endpoint_id=eid,
        url=endpoint.url,
        event_types=list(endpoint.event_types),
        description=endpoint.description,
        status="disabled" if disabled else "enabled",
        secret_generation=generation,
        secret_url=f"/webhook-endpoints/{eid}/secret",
        deliveries_url=f"/webhook-endpoints/{eid}/deliveries",
        created_at=created_at,
        disabled_reason=endpoint.disabled_reason,
        seller_account=endpoint.seller_account,
    )


def delivery_body(delivery: Delivery, event: bytes | None = None) -> DeliveryResponse:
    pending = delivery.status == "pending"
    return DeliveryResponse(
        delivery_id=delivery.delivery_id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        position=delivery.position,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if pending else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        last_attempt_at=delivery.last_attempt_at,
        delivered_at=delivery.delivered_at,
        event=msgspec.json.decode(event) if event is not None else None,
    )
