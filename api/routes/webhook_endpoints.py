"""Webhook endpoints of merchants and their deliveries (ADR 0027, docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import JSONBody, QueryParameter

from payments.api.auth import access
from payments.api.idempotency import OnceDep, fingerprint, idempotency_key_guard, stored_answer
from payments.api.openapi import created_or_existing, spec
from payments.api.parameters import (
    CallerDep,
    LimitQuery,
    PositionCursorQuery,
    ServicesDep,
    business_id,
)
from payments.api.reads import keyset_page
from payments.api.routes.keys import DURATION, duration
from payments.api.schemas import Reason
from payments.domain.api_key import Role
from payments.domain.errors import IllegalTransition, NotFound
from payments.domain.webhook_endpoint import (
    EVENT_TYPES,
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
    WebhookEndpoint,
)
from payments.projections.followers.webhook_deliveries import STATUSES, Delivery
from payments.runtime.idempotency import StoredResponse
from payments.runtime.services import Services

CREATE_SCOPE = "POST /webhook-endpoints"
MAX_BODY_BYTES = 8 * 1024
NO_STORE = {"cache-control": "no-store"}

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
EventType = Annotated[str, msgspec.Meta(pattern=f"^({'|'.join(EVENT_TYPES)})$")]


class CreateEndpointRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=MAX_URL_LENGTH,
            description="Where deliveries are POSTed: https:// (plain http only outside "
            "production mode), no user name or password, no #fragment.",
            examples=["https://shop.example/payments-webhooks"],
        ),
    ]
    event_types: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=len(EVENT_TYPES))]
    description: Annotated[
        str,
        msgspec.Meta(max_length=MAX_DESCRIPTION_LENGTH, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$"),
    ] = ""


class RotateSecretRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    overlap: Annotated[str, msgspec.Meta(pattern=DURATION.pattern)] = "24h"


class DisableRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason = "disabled by the merchant"


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


def endpoint_body(endpoint: WebhookEndpoint) -> EndpointResponse:
    eid = endpoint.endpoint_id
    return EndpointResponse(
        endpoint_id=eid,
        url=endpoint.url,
        event_types=list(endpoint.event_types),
        description=endpoint.description,
        status="disabled" if endpoint.disabled else "enabled",
        secret_generation=endpoint.generation,
        secret_url=f"/webhook-endpoints/{eid}/secret",
        deliveries_url=f"/webhook-endpoints/{eid}/deliveries",
        created_at=endpoint.created_on,
        disabled_reason=endpoint.disabled_reason,
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


def _created(services: Services, data: CreateEndpointRequest, once: Any) -> StoredResponse:
    endpoint, position, created = services.webhooks.register(
        once.id_seed, data.url, list(data.event_types), data.description, once.caller.key_id
    )
    location = f"/webhook-endpoints/{endpoint.endpoint_id}"
    return stored_answer(201 if created else 200, endpoint_body(endpoint), location, position)


class WebhookEndpointsController(Controller):
    path = "/webhook-endpoints"
    tags = ["webhooks"]

    @post(
        "/",
        **spec(
            "createWebhookEndpoint",
            "Register an endpoint that receives the events it names, signed",
            problems=(409, 413, 422),
            answers=created_or_existing(
                EndpointResponse, "Created", "The endpoint this key created before"
            ),
        ),
        description="From now on every event of the named types is POSTed to the URL, "
        "signed with the endpoint's secret (read it at secret_url), at least once, retried "
        "with backoff until it answers 2xx. Needs Idempotency-Key. 409 when the deployment "
        "has no PAYMENTS_AUDIT_KEY to derive secrets from.",
        status_code=201,
        before_request=idempotency_key_guard,
        request_max_body_size=MAX_BODY_BYTES,
        **access(Role.MERCHANT),
    )
    def create_endpoint(
        self, data: JSONBody[CreateEndpointRequest], services: ServicesDep, once: OnceDep
    ) -> Response[bytes]:
        return once.run(CREATE_SCOPE, fingerprint([data]), lambda: _created(services, data, once))

    @get(
        "/",
        **spec("listWebhookEndpoints", "Every webhook endpoint, enabled or disabled"),
        **access(Role.MERCHANT, Role.OPERATOR),
    )
    def list_endpoints(self, services: ServicesDep) -> EndpointList:
        return EndpointList(
            [
                EndpointResponse(
                    endpoint_id=row.endpoint_id,
                    url=row.url,
                    event_types=list(row.event_types),
                    description=row.description,
                    status="disabled" if row.disabled_at else "enabled",
                    secret_generation=row.secret_generation,
                    secret_url=f"/webhook-endpoints/{row.endpoint_id}/secret",
                    deliveries_url=f"/webhook-endpoints/{row.endpoint_id}/deliveries",
                    created_at=row.created_at,
                    disabled_reason=row.disabled_reason,
                )
                for row in services.webhooks.endpoints()
            ]
        )

    @get(
        "/{endpoint_id:str}",
        **spec("getWebhookEndpoint", "A webhook endpoint", problems=(404, 422)),
        **access(Role.MERCHANT, Role.OPERATOR),
    )
    def get_endpoint(self, endpoint_id: EndpointIdPath, services: ServicesDep) -> EndpointResponse:
        return endpoint_body(services.webhooks.commands.get(endpoint_id))

    @get(
        "/{endpoint_id:str}/secret",
        **spec(
            "getWebhookEndpointSecret",
            "The secrets deliveries are signed with now",
            problems=(404, 409, 422),
        ),
        description="The current secret, and during a rotation's overlap the previous one "
        "with the instant it stops signing. Never stored: derived when asked.",
        **access(Role.MERCHANT),
    )
    def get_secret(
        self, endpoint_id: EndpointIdPath, services: ServicesDep
    ) -> Response[SecretsResponse]:
        found = services.webhooks.secrets_of(endpoint_id)
        body = SecretsResponse(
            endpoint_id, [SecretView(s.generation, s.secret, s.signs_until) for s in found]
        )
        return Response(body, headers=NO_STORE)

    @post(
        "/{endpoint_id:str}/rotate-secret",
        **spec(
            "rotateWebhookEndpointSecret",
            "A new secret at once; the old one also signs for the overlap",
            problems=(404, 409, 422),
        ),
        description="overlap: how long deliveries carry a signature under the old secret too "
        "(0s to 7d, default 24h), so the receiver can switch without refusing one.",
        status_code=200,
        **access(Role.MERCHANT),
    )
    def rotate_secret(
        self,
        endpoint_id: EndpointIdPath,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[RotateSecretRequest | None] = None,
    ) -> EndpointResponse:
        overlap = duration((data or RotateSecretRequest()).overlap, "overlap")
        endpoint, _ = services.webhooks.rotate(endpoint_id, overlap, by=caller.key_id)
        return endpoint_body(endpoint)

    @post(
        "/{endpoint_id:str}/disable",
        **spec("disableWebhookEndpoint", "No more deliveries", problems=(404, 409, 422)),
        description="Deliveries waiting are cancelled; a disabled endpoint stays disabled "
        "(register another).",
        status_code=200,
        **access(Role.MERCHANT),
    )
    def disable_endpoint(
        self,
        endpoint_id: EndpointIdPath,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[DisableRequest | None] = None,
    ) -> EndpointResponse:
        reason = (data or DisableRequest()).reason
        services.webhooks.commands.disable(endpoint_id, reason, by=caller.key_id)
        return endpoint_body(services.webhooks.commands.get(endpoint_id))

    @get(
        "/{endpoint_id:str}/deliveries",
        **spec(
            "listWebhookDeliveries",
            "An endpoint's deliveries, newest event first (keyset paging)",
            problems=(404, 422),
        ),
        **access(Role.MERCHANT, Role.OPERATOR),
    )
    def list_deliveries(
        self,
        endpoint_id: EndpointIdPath,
        services: ServicesDep,
        status: DeliveryStatusQuery = None,
        limit: LimitQuery = 50,
        cursor: PositionCursorQuery = None,
    ) -> DeliveryPage:
        services.webhooks.commands.get(endpoint_id)  # 404 for an endpoint never made
        before = int(cursor) if cursor is not None else None
        rows = services.webhooks.deliveries.of_endpoint(endpoint_id, status, before, limit + 1)
        page, last = keyset_page(rows, limit)
        return DeliveryPage(
            [delivery_body(d) for d in page], str(last.position) if last is not None else None
        )


class WebhookDeliveriesController(Controller):
    path = "/webhook-deliveries"
    tags = ["webhooks"]

    @get(
        "/{delivery_id:str}",
        **spec("getWebhookDelivery", "A delivery, with the event it sends", problems=(404, 422)),
        **access(Role.MERCHANT, Role.OPERATOR),
    )
    def get_delivery(self, delivery_id: DeliveryIdPath, services: ServicesDep) -> DeliveryResponse:
        deliveries = services.webhooks.deliveries
        found = deliveries.get(delivery_id)
        if found is None:
            raise NotFound(f"webhook delivery {delivery_id!r}")
        return delivery_body(found, deliveries.body(delivery_id))

    @post(
        "/{delivery_id:str}/redeliver",
        **spec(
            "redeliverWebhookDelivery",
            "Send a delivery again (failed, delivered or cancelled)",
            problems=(404, 409, 422),
        ),
        description="Pending again, due now, its attempts counted afresh; the same body and "
        "event id. 409 while it is pending, or when its endpoint is disabled.",
        status_code=200,
        **access(Role.MERCHANT, Role.OPERATOR),
    )
    def redeliver(self, delivery_id: DeliveryIdPath, services: ServicesDep) -> DeliveryResponse:
        deliveries = services.webhooks.deliveries
        found = deliveries.get(delivery_id)
        if found is None:
            raise NotFound(f"webhook delivery {delivery_id!r}")
        again = deliveries.redeliver(delivery_id)
        if again is None:
            raise invalid_state(found)
        return delivery_body(again)


def invalid_state(found: Delivery) -> IllegalTransition:
    if found.status == "pending":
        return IllegalTransition("pending", "redelivered")
    return IllegalTransition("endpoint disabled", "redelivered")
