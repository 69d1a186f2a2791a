"""Webhook deliveries read and sent again one at a time (ADR 0027, docs/webhooks.md); an
endpoint's list of them is its own route (api/routes/webhook_endpoints.py). A seller key
sees its own seller's endpoints' deliveries only; another's is Not found."""

from __future__ import annotations

from litestar import Controller, get, post

from payments.api.auth import access
from payments.api.openapi import link, operation, spec
from payments.api.parameters import CallerDep, ServicesDep
from payments.api.routes.webhook_endpoints import visible
from payments.api.webhook_schemas import DeliveryIdPath, DeliveryResponse, delivery_body
from payments.domain.api_key import Role
from payments.domain.errors import NotFound
from payments.projections.followers.webhook_deliveries import Delivery
from payments.runtime.keys import Caller
from payments.runtime.services import Services

_DELIVERY_LINKS = {
    "getWebhookDelivery": link(
        "getWebhookDelivery", "Read the delivery back", delivery_id="$response.body#/delivery_id"
    ),
    "redeliverWebhookDelivery": link(
        "redeliverWebhookDelivery", "Send it again", delivery_id="$response.body#/delivery_id"
    ),
    "getWebhookEndpoint": link(
        "getWebhookEndpoint", "The endpoint it goes to", endpoint_id="$response.body#/endpoint_id"
    ),
}


def visible_delivery(services: Services, caller: Caller, delivery_id: str) -> Delivery:
    """The delivery, when the caller may see its endpoint."""
    delivery = services.webhooks.delivery(delivery_id)
    try:
        visible(services, caller, delivery.endpoint_id)
    except NotFound:
        raise NotFound(f"webhook delivery {delivery_id!r} not found") from None
    return delivery


class WebhookDeliveriesController(Controller):
    path = "/webhook-deliveries"
    tags = ["webhooks"]

    @get(
        "/{delivery_id:str}",
        **spec("getWebhookDelivery", "A delivery, with the event it sends", problems=(404, 422)),
        operation_class=operation(links={200: _DELIVERY_LINKS}),
        **access(Role.MERCHANT, Role.OPERATOR, Role.SELLER),
    )
    def get_delivery(
        self, delivery_id: DeliveryIdPath, services: ServicesDep, caller: CallerDep
    ) -> DeliveryResponse:
        delivery = visible_delivery(services, caller, delivery_id)
        return delivery_body(delivery, services.webhooks.deliveries.body(delivery_id))

    @post(
        "/{delivery_id:str}/redeliver",
        **spec(
            "redeliverWebhookDelivery",
            "Send a delivery again (failed, delivered or cancelled)",
            problems=(404, 409, 422),
        ),
        description="Pending again, due now, its attempts counted afresh; the same body and "
        "event id (cancelled: by its endpoint's disabling, now enabled again). 409 while it "
        "is pending, or when its endpoint is disabled.",
        status_code=200,
        operation_class=operation(links={200: _DELIVERY_LINKS}),
        **access(Role.MERCHANT, Role.OPERATOR, Role.SELLER),
    )
    def redeliver(
        self, delivery_id: DeliveryIdPath, services: ServicesDep, caller: CallerDep
    ) -> DeliveryResponse:
        visible_delivery(services, caller, delivery_id)
        return delivery_body(services.webhooks.redeliver(delivery_id, by=caller.key_id))
