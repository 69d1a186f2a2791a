"""Commands on webhook endpoints: register, rotate the secret, disable (ADR 0027)."""

from __future__ import annotations

from datetime import datetime, timedelta

from payments.domain.application import PaymentsApplication
from payments.domain.errors import FieldError, InvalidCommand, found
from payments.domain.ids import webhook_endpoint_uuid
from payments.domain.webhook_endpoint import WebhookEndpoint

MAX_OVERLAP = timedelta(days=7)


class WebhookEndpointCommands:
    def __init__(self, application: PaymentsApplication, *, allow_http: bool) -> None:
        self.application = application
        self.allow_http = allow_http

    def find(self, endpoint_id: str) -> WebhookEndpoint | None:
        return self.application.find(WebhookEndpoint, webhook_endpoint_uuid(endpoint_id))

    def get(self, endpoint_id: str) -> WebhookEndpoint:
        return found(self.find(endpoint_id), f"webhook endpoint {endpoint_id!r}")

    def register(
        self, endpoint_id: str, url: str, event_types: list[str], description: str, by: str
    ) -> tuple[WebhookEndpoint, int | None]:
        endpoint = WebhookEndpoint.register(
            endpoint_id, url, event_types, description, by, allow_http=self.allow_http
        )
        return endpoint, self.application.record(endpoint)

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

    def disable(self, endpoint_id: str, reason: str, by: str) -> int | None:
        endpoint = self.get(endpoint_id)
        endpoint.disable(reason, by)
        return self.application.record(endpoint)
