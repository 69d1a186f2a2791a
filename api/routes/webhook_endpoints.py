"""Webhook endpoints of merchants and sellers, and their deliveries (ADR 0027,
docs/webhooks.md). A seller key registers, sees and manages its own seller's endpoints only,
which hear that seller's events alone; another's is Not found, as everywhere."""

from __future__ import annotations

from litestar import Controller, Response, get, patch, post
from litestar.params import JSONBody

from payments.api.auth import access
from payments.api.idempotency import (
    Once,
    OnceDep,
    fingerprint,
    idempotency_key_guard,
    stored_answer,
)
from payments.api.openapi import (
    created_or_existing,
    created_or_replayed,
    link,
    spec,
    write_headers,
)
from payments.api.parameters import CallerDep, LimitQuery, PositionCursorQuery, ServicesDep
from payments.api.problems import ProblemError
from payments.api.reads import keyset_page, parse_instant
from payments.api.schemas import duration
from payments.api.webhook_schemas import (
    CreateEndpointRequest,
    DeliveryPage,
    DeliveryStatusQuery,
    DisableRequest,
    EndpointIdPath,
    EndpointList,
    EndpointResponse,
    PingResponse,
    RecoverRequest,
    RecoverResponse,
    RotateSecretRequest,
    SecretsResponse,
    SecretView,
    UpdateEndpointRequest,
    delivery_body,
    endpoint_body,
)
from payments.domain.api_key import Role
from payments.domain.errors import NotFound
from payments.domain.webhook_endpoint import WebhookEndpoint
from payments.runtime.idempotency import StoredResponse
from payments.runtime.keys import Caller
from payments.runtime.services import Services

CREATE_SCOPE = "POST /webhook-endpoints"
MAX_BODY_BYTES = 32 * 1024  # room for a URL of 2,048 characters, each escaped in six bytes
NO_STORE = {"cache-control": "no-store"}

_ENDPOINT_LINKS = {
    operation_id: link(operation_id, description, endpoint_id="$response.body#/endpoint_id")
    for operation_id, description in (
        ("getWebhookEndpoint", "Read the endpoint back"),
        ("getWebhookEndpointSecret", "The secret its deliveries are signed with"),
        ("listWebhookDeliveries", "Its deliveries"),
        ("rotateWebhookEndpointSecret", "Rotate its secret"),
        ("recoverWebhookDeliveries", "Send its failed deliveries again"),
        ("pingWebhookEndpoint", "Send it a test event"),
        ("disableWebhookEndpoint", "Disable it"),
        ("enableWebhookEndpoint", "Enable it again"),
    )
}
_CREATED_HEADERS = write_headers("The endpoint's URL, /webhook-endpoints/{endpoint_id}")


def _seller_of(caller: Caller, asked: str | None) -> str | None:
    """Whose events a new endpoint hears: what a merchant asked (None: every seller's), or a
    seller key's own seller (naming another: 403)."""
    if caller.role is not Role.SELLER:
        return asked
    if asked not in (None, caller.seller_account):
        raise ProblemError(
            403, "forbidden", "Not allowed for this key",
            f"a seller key registers endpoints for its own seller ({caller.seller_account}) only",
        )  # fmt: skip
    return caller.seller_account


def visible(services: Services, caller: Caller, endpoint_id: str) -> WebhookEndpoint:
    """The endpoint, when the caller may see it: a seller key sees its own seller's alone
    (another's, or a merchant's of every seller, is Not found)."""
    endpoint = services.webhooks.commands.get(endpoint_id)
    if caller.role is Role.SELLER and endpoint.seller_account != caller.seller_account:
        raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
    return endpoint


def _created(services: Services, data: CreateEndpointRequest, once: Once) -> StoredResponse:
    endpoint, position, created = services.webhooks.register(
        once.id_seed, data.url, list(data.event_types), data.description, once.caller.key_id,
        seller_account=_seller_of(once.caller, data.seller_account),
    )  # fmt: skip
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
        "has no PAYMENTS_AUDIT_KEY to derive secrets from; 422 for a URL we cannot deliver "
        "to (not https://, or plain http:// in production mode; no host; a user name or "
        "password; a #fragment; port 0; an unspecified or multicast address, or in production "
        "mode any address that is not public), and for checkout.completed on an endpoint of "
        "one seller. seller_account: the one seller whose events it hears (none: every "
        "seller's); a seller key's endpoint is its own seller's (naming another: 403).",
        status_code=201,
        before_request=idempotency_key_guard,
        request_max_body_size=MAX_BODY_BYTES,
        operation_class=created_or_replayed(_ENDPOINT_LINKS, _CREATED_HEADERS),
        **access(Role.MERCHANT, Role.SELLER),
    )
    def create_endpoint(
        self, data: JSONBody[CreateEndpointRequest], services: ServicesDep, once: OnceDep
    ) -> Response[bytes]:
        return once.run(CREATE_SCOPE, fingerprint([data]), lambda: _created(services, data, once))

    @get(
        "/",
        **spec("listWebhookEndpoints", "Every webhook endpoint, enabled or disabled"),
        description="A seller key lists its own seller's endpoints.",
        **access(Role.MERCHANT, Role.OPERATOR, Role.SELLER),
    )
    def list_endpoints(self, services: ServicesDep, caller: CallerDep) -> EndpointList:
        own = caller.seller_account if caller.role is Role.SELLER else None
        return EndpointList([endpoint_body(row) for row in services.webhooks.endpoints(own)])

    @get(
        "/{endpoint_id:str}",
        **spec("getWebhookEndpoint", "A webhook endpoint", problems=(404, 422)),
        **access(Role.MERCHANT, Role.OPERATOR, Role.SELLER),
    )
    def get_endpoint(
        self, endpoint_id: EndpointIdPath, services: ServicesDep, caller: CallerDep
    ) -> EndpointResponse:
        return endpoint_body(visible(services, caller, endpoint_id))

    @get(
        "/{endpoint_id:str}/secret",
        **spec(
            "getWebhookEndpointSecret",
            "The secrets deliveries are signed with now",
            problems=(404, 409, 422),
        ),
        description="The current secret, and during a rotation's overlap the previous one "
        "with the instant it stops signing. Never stored: derived when asked.",
        **access(Role.MERCHANT, Role.SELLER),
    )
    def get_secret(
        self, endpoint_id: EndpointIdPath, services: ServicesDep, caller: CallerDep
    ) -> Response[SecretsResponse]:
        visible(services, caller, endpoint_id)
        found = services.webhooks.secrets_of(endpoint_id)
        body = SecretsResponse(
            endpoint_id, [SecretView(s.generation, s.secret, s.signs_until) for s in found]
        )
        return Response(body, headers=NO_STORE)

    @patch(
        "/{endpoint_id:str}",
        **spec(
            "updateWebhookEndpoint",
            "Move the endpoint to another URL, describe it anew, or change its event types",
            problems=(404, 409, 413, 422),
        ),
        description="url, description and event_types, each left as it is when left out; the "
        "same rules as at registration (422). From the change on, every attempt goes to the "
        "new URL, also of deliveries already waiting (retries included); the events recorded "
        "after the change are delivered by the new event_types (the whole list it hears from "
        "then on), those already delivered or waiting stay. Its id, secret and seller stay. "
        "409 for a disabled endpoint; the same values again change nothing.",
        request_max_body_size=MAX_BODY_BYTES,
        **access(Role.MERCHANT, Role.SELLER),
    )
    def update_endpoint(
        self,
        endpoint_id: EndpointIdPath,
        data: JSONBody[UpdateEndpointRequest],
        services: ServicesDep,
        caller: CallerDep,
    ) -> EndpointResponse:
        visible(services, caller, endpoint_id)
        types = None if data.event_types is None else list(data.event_types)
        endpoint, _ = services.webhooks.commands.update(
            endpoint_id, data.url, data.description, caller.key_id, types
        )
        return endpoint_body(endpoint)

    @post(
        "/{endpoint_id:str}/rotate-secret",
        **spec(
            "rotateWebhookEndpointSecret",
            "A new secret at once; the old one also signs for the overlap",
            problems=(404, 409, 422),
        ),
        description="overlap: how long deliveries carry a signature under the old secret too "
        "(0s to 7d, default 24h), so the receiver can switch without refusing one; 422 for "
        "a longer one. 409 for a disabled endpoint.",
        status_code=200,
        **access(Role.MERCHANT, Role.SELLER),
    )
    def rotate_secret(
        self,
        endpoint_id: EndpointIdPath,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[RotateSecretRequest | None] = None,
    ) -> EndpointResponse:
        visible(services, caller, endpoint_id)
        overlap = duration((data or RotateSecretRequest()).overlap, "overlap")
        endpoint, _ = services.webhooks.rotate(endpoint_id, overlap, by=caller.key_id)
        return endpoint_body(endpoint)

    @post(
        "/{endpoint_id:str}/disable",
        **spec("disableWebhookEndpoint", "No more deliveries", problems=(404, 409, 422)),
        description="Deliveries waiting are cancelled, and no delivery is made for the "
        "events recorded until the endpoint is enabled again. 409 for a disabled endpoint.",
        status_code=200,
        **access(Role.MERCHANT, Role.SELLER),
    )
    def disable_endpoint(
        self,
        endpoint_id: EndpointIdPath,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[DisableRequest | None] = None,
    ) -> EndpointResponse:
        visible(services, caller, endpoint_id)
        reason = (data or DisableRequest()).reason
        endpoint, _ = services.webhooks.commands.disable(endpoint_id, reason, by=caller.key_id)
        return endpoint_body(endpoint)

    @post(
        "/{endpoint_id:str}/enable",
        **spec("enableWebhookEndpoint", "Deliveries again", problems=(404, 409, 422)),
        description="A disabled endpoint hears again: the events recorded from now on are "
        "delivered by its types; those recorded while it was disabled never are. The "
        "deliveries its disabling cancelled can be sent again (recover, redeliver). 409 "
        "unless disabled.",
        status_code=200,
        **access(Role.MERCHANT, Role.SELLER),
    )
    def enable_endpoint(
        self, endpoint_id: EndpointIdPath, services: ServicesDep, caller: CallerDep
    ) -> EndpointResponse:
        visible(services, caller, endpoint_id)
        return endpoint_body(services.webhooks.enable(endpoint_id, by=caller.key_id))

    @post(
        "/{endpoint_id:str}/ping",
        **spec("pingWebhookEndpoint", "Send the endpoint a test event", problems=(404, 409, 422)),
        description="One delivery of type webhook_endpoint.ping to this endpoint alone, "
        "whatever types it hears, signed and retried like any other: to check that the "
        "receiver answers and verifies signatures. Accepted at once; the worker sends it. "
        "409 for a disabled endpoint.",
        status_code=202,
        **access(Role.MERCHANT, Role.SELLER),
    )
    def ping(
        self, endpoint_id: EndpointIdPath, services: ServicesDep, caller: CallerDep
    ) -> PingResponse:
        visible(services, caller, endpoint_id)
        event_id, delivery_id = services.webhooks.ping(endpoint_id, by=caller.key_id)
        return PingResponse(
            endpoint_id, event_id, delivery_id, f"/webhook-deliveries/{delivery_id}"
        )

    @post(
        "/{endpoint_id:str}/recover",
        **spec(
            "recoverWebhookDeliveries",
            "Send again every failed delivery made since an instant",
            problems=(404, 409, 422),
        ),
        description="After an outage of the receiver: each failed delivery of the endpoint "
        "(and each one its disabling cancelled) made at or after `since` is pending again, "
        "due now, its attempts counted afresh (the same body and event id); the endpoint's "
        "share of the sender's threads paces them. 409 for a disabled endpoint.",
        status_code=200,
        **access(Role.MERCHANT, Role.OPERATOR, Role.SELLER),
    )
    def recover(
        self,
        endpoint_id: EndpointIdPath,
        data: JSONBody[RecoverRequest],
        services: ServicesDep,
        caller: CallerDep,
    ) -> RecoverResponse:
        visible(services, caller, endpoint_id)
        since = parse_instant("since", data.since)
        assert since is not None
        count = services.webhooks.recover(endpoint_id, since, by=caller.key_id)
        return RecoverResponse(
            endpoint_id,
            since,
            count,
            f"/webhook-endpoints/{endpoint_id}/deliveries?status=pending",
        )

    @get(
        "/{endpoint_id:str}/deliveries",
        **spec(
            "listWebhookDeliveries",
            "An endpoint's deliveries, newest event first (keyset paging)",
            problems=(404, 422),
        ),
        **access(Role.MERCHANT, Role.OPERATOR, Role.SELLER),
    )
    def list_deliveries(
        self,
        endpoint_id: EndpointIdPath,
        services: ServicesDep,
        caller: CallerDep,
        status: DeliveryStatusQuery = None,
        limit: LimitQuery = 50,
        cursor: PositionCursorQuery = None,
    ) -> DeliveryPage:
        visible(services, caller, endpoint_id)  # 404 for one never made, or another's
        before = int(cursor) if cursor is not None else None
        rows = services.webhooks.deliveries.of_endpoint(endpoint_id, status, before, limit + 1)
        page, last = keyset_page(rows, limit)
        return DeliveryPage(
            [delivery_body(d) for d in page], str(last.position) if last is not None else None
        )
