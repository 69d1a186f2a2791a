"""Commands on webhook endpoints: register (once), rotate the secret, disable, enable, ping
(ADR 0027)."""

from __future__ import annotations

from datetime import datetime, timedelta

from payments.domain.application import PaymentsApplication
from payments.domain.errors import FieldError, InvalidCommand, WebhookEndpointConflict, found
from payments.domain.ids import webhook_endpoint_uuid
from payments.domain.webhook_endpoint import WebhookEndpoint

MAX_OVERLAP = timedelta(days=7)


class WebhookEndpointCommands:
    def __init__(self, application: PaymentsApplication, *, production: bool) -> None:
        self.application = application
        self.production = production

    def find(self, endpoint_id: str) -> WebhookEndpoint | None:
        return self.application.find(WebhookEndpoint, webhook_endpoint_uuid(endpoint_id))

    def get(self, endpoint_id: str) -> WebhookEndpoint:
        return found(self.find(endpoint_id), f"webhook endpoint {endpoint_id!r}")

    def register_once(
        self,
        endpoint_id: str,
        url: str,
        event_types: list[str],
        description: str,
        by: str,
        *,
        seller_account: str | None = None,
    ) -> tuple[WebhookEndpoint, int | None, bool]:
        """The endpoint `endpoint_id` names: made now (created True), or made before with the
        same URL, types, description and seller; with other ones, WebhookEndpointConflict."""
        existing = self.find(endpoint_id)
        if existing is None:
            endpoint = WebhookEndpoint.register(
                endpoint_id, url, event_types, description, by,
                production=self.production, seller_account=seller_account,
            )  # fmt: skip
            return endpoint, self.application.record(endpoint), True
        asked = (url, sorted(event_types), description, seller_account)
        had = (existing.url, existing.event_types, existing.description, existing.seller_account)
        if had != asked:
            raise WebhookEndpointConflict(endpoint_id)
        return existing, None, False

    def rotate_secret(
        self, endpoint_id: str, overlap: timedelta, now: datetime, by: str
    ) -> tuple[WebhookEndpoint, int | None]:
        """A new secret at once; deliveries are signed with both for `overlap` (0 to 7 days),
        so the receiver can switch without refusing one."""
        if not timedelta(0) <= overlap <= MAX_OVERLAP:
            raise InvalidCommand([FieldError("overlap", "must be between 0 and 7 days")])
        endpoint = self.get(endpoint_id)
        endpoint.rotate_secret(now + overlap, by)
        return endpoint, self.application.record(endpoint)

    def disable(self, endpoint_id: str, reason: str, by: str) -> tuple[WebhookEndpoint, int | None]:
        endpoint = self.get(endpoint_id)
        endpoint.disable(reason, by)
        return endpoint, self.application.record(endpoint)

    def enable(self, endpoint_id: str, by: str) -> tuple[WebhookEndpoint, int | None]:
        endpoint = self.get(endpoint_id)
        endpoint.enable(by)
        return endpoint, self.application.record(endpoint)

    def update(
        self,
        endpoint_id: str,
        url: str | None,
        description: str | None,
        by: str,
        event_types: list[str] | None = None,
    ) -> tuple[WebhookEndpoint, int | None]:
        """A new URL, description or set of event types: the position of the change (None
        when nothing changed)."""
        endpoint = self.get(endpoint_id)
        changed = endpoint.update(
            url, description, by, production=self.production, event_types=event_types
        )
        if not changed:
            return endpoint, None
        return endpoint, self.application.record(endpoint)

    def ping(self, endpoint_id: str, by: str) -> tuple[WebhookEndpoint, int | None]:
        """A test event for the endpoint: its delivery is the notification feed's, as any."""
        endpoint = self.get(endpoint_id)
        endpoint.ping(by)
        return endpoint, self.application.record(endpoint)
