"""Webhooks to merchants, put together: commands, the endpoints' view, deliveries, secrets,
the feed and the sender (ADR 0027, docs/webhooks.md)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.domain.errors import IllegalTransition, NotConfigured, found
from payments.domain.webhook_commands import WebhookEndpointCommands
from payments.domain.webhook_endpoint import DeliveryPolicy, WebhookEndpoint, signing_generations
from payments.projections.core import ProjectionPoisoned
from payments.projections.followers.follower import Follower
from payments.projections.followers.notification_feed import NotificationFeed
from payments.projections.followers.webhook_deliveries import Delivery, WebhookDeliveries
from payments.projections.followers.webhook_events import delivery_id_of, event_id_for
from payments.projections.source import ApplicationEventSource
from payments.projections.views.webhook_endpoints import EndpointRow, WebhookEndpointsView
from payments.runtime.config import Settings
from payments.runtime.secrets import endpoint_secret
from payments.runtime.webhook_sender import SenderConfig, WebhookSender

ENDPOINT_PREFIX = "we_"
AUTOMATIC = "scheduler"  # who disabled an endpoint whose deliveries failed for days
log = logging.getLogger("payments.webhooks")


@dataclass(frozen=True, slots=True)
class EndpointSecret:
    generation: int
    secret: str
    signs_until: datetime | None  # None: the current secret


def endpoint_id_for_key(id_seed: str) -> str:
    """The endpoint a POST /webhook-endpoints with this (caller-scoped) key creates."""
    return ENDPOINT_PREFIX + hashlib.sha256(id_seed.encode()).hexdigest()[:24]


class Webhooks:
    def __init__(
        self, settings: Settings, application: PaymentsApplication, pool: ConnectionPool
    ) -> None:
        self.settings = settings
        self.application = application
        self.pool = pool
        self.commands = WebhookEndpointCommands(
            application, production=settings.mode == "production"
        )
        self.deliveries = WebhookDeliveries(pool)

    @cached_property
    def feed(self) -> Follower:
        """Makes the deliveries from the log; the worker runs it with its other feeds."""
        return Follower(
            NotificationFeed(self.pool, self.application), ApplicationEventSource(self.application)
        )

    def endpoints(self, seller_account: str | None = None) -> list[EndpointRow]:
        """Every endpoint (with `seller_account`: that seller's), from the view caught up
        with the log first."""
        view = WebhookEndpointsView(self.pool)
        Follower(view, ApplicationEventSource(self.application)).run_until_idle()
        return view.endpoints(seller_account)

    def register(
        self,
        id_seed: str,
        url: str,
        event_types: list[str],
        description: str,
        by: str,
        *,
        seller_account: str | None = None,
    ) -> tuple[WebhookEndpoint, int | None, bool]:
        """The endpoint this key made (again, on a retry whose stored answer expired: created
        False), or a new one; with `seller_account`, it hears that seller's events alone."""
        self._signing_key()  # refuse before writing anything
        endpoint_id = endpoint_id_for_key(id_seed)
        return self.commands.register_once(
            endpoint_id, url, event_types, description, by, seller_account=seller_account
        )

    def rotate(
        self, endpoint_id: str, overlap: timedelta, by: str
    ) -> tuple[WebhookEndpoint, int | None]:
        self.commands.get(endpoint_id)  # an unknown endpoint is Not found, whatever else
        self._signing_key()
        return self.commands.rotate_secret(endpoint_id, overlap, datetime.now(UTC), by)

    def secrets_of(self, endpoint_id: str) -> list[EndpointSecret]:
        """The secrets deliveries are signed with now: the current one, and the previous
        one while a rotation's overlap lasts."""
        endpoint = self.commands.get(endpoint_id)
        key = self._signing_key()
        generations = signing_generations(
            endpoint.generation, endpoint.previous_until, datetime.now(UTC)
        )
        return [
            EndpointSecret(
                g,
                endpoint_secret(key, endpoint_id, g),
                None if g == endpoint.generation else endpoint.previous_until,
            )
            for g in generations
        ]

    def delivery(self, delivery_id: str) -> Delivery:
        return found(self.deliveries.get(delivery_id), f"webhook delivery {delivery_id!r}")

    def redeliver(self, delivery_id: str, by: str) -> Delivery:
        """A failed or delivered delivery pending again, due now (NotFound, or
        IllegalTransition while it is pending or when its endpoint is disabled: read from the
        endpoint itself, which says so before the worker's feed has applied it)."""
        delivery = self.delivery(delivery_id)
        if self.commands.get(delivery.endpoint_id).disabled:
            raise IllegalTransition("endpoint disabled", "redelivered")
        again = self.deliveries.redeliver(delivery_id)
        if again is None:  # pending (meanwhile, perhaps), or disabled meanwhile
            now = self.delivery(delivery_id)
            raise IllegalTransition(
                now.status if now.status == "pending" else "endpoint disabled", "redelivered"
            )
        log.info("webhook delivery redelivered", extra={"delivery_id": delivery_id, "by": by})
        return again

    def recover(self, endpoint_id: str, since: datetime, by: str) -> int:
        """Every failed delivery of the endpoint made at or after `since` (and every one its
        disabling cancelled), pending again; how many (NotFound; IllegalTransition for a
        disabled endpoint)."""
        if self.commands.get(endpoint_id).disabled:
            raise IllegalTransition("endpoint disabled", "recovered")
        count = self.deliveries.recover(endpoint_id, since)
        log.info(
            "webhook deliveries recovered",
            extra={
                "endpoint_id": endpoint_id,
                "since": since.isoformat(),
                "count": count,
                "by": by,
            },
        )
        return count

    def enable(self, endpoint_id: str, by: str) -> WebhookEndpoint:
        """A disabled endpoint hears again (NotFound; IllegalTransition unless disabled). The
        notification feed is caught up before the answer, as the worker would, so that its
        deliveries can be sent, redelivered or recovered at once."""
        endpoint, _ = self.commands.enable(endpoint_id, by)
        try:
            self.feed.run_until_idle()
        except ProjectionPoisoned as stuck:  # enabled all the same; the worker reports it
            log.warning("webhook endpoint enabled; the feed is stuck", extra={"error": str(stuck)})
        log.info("webhook endpoint enabled", extra={"endpoint_id": endpoint_id, "by": by})
        return endpoint

    def disable_failing(self, days: int) -> list[str]:
        """Disable every enabled endpoint whose deliveries have all failed for `days` days
        (PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS), as Stripe does: its waiting deliveries are
        cancelled, and it can be enabled again. The endpoints disabled."""
        disabled = []
        for endpoint_id, since in self.deliveries.failing_since(timedelta(days=days)).items():
            reason = (
                f"every delivery failed since {since.isoformat().replace('+00:00', 'Z')}: "
                f"disabled automatically after {days} day(s)"
            )
            try:
                self.commands.disable(endpoint_id, reason, by=AUTOMATIC)
            except IllegalTransition:
                continue  # disabled meanwhile (the feed had not applied it yet)
            log.warning(
                "webhook endpoint disabled: its deliveries have failed for days",
                extra={"endpoint_id": endpoint_id, "since": since.isoformat(), "days": days},
            )
            disabled.append(endpoint_id)
        return disabled

    def ping(self, endpoint_id: str, by: str) -> tuple[str, str]:
        """A test event for the endpoint: the ids of the event and of its delivery, which the
        worker's feed makes (NotFound; IllegalTransition for a disabled endpoint)."""
        endpoint, _ = self.commands.ping(endpoint_id, by)
        event_id = event_id_for(endpoint.id, endpoint.version)
        log.info("webhook endpoint pinged", extra={"endpoint_id": endpoint_id, "by": by})
        return event_id, delivery_id_of(event_id, endpoint_id)

    def secret_of(self, endpoint_id: str, generation: int) -> str:
        return endpoint_secret(self._signing_key(), endpoint_id, generation)

    def _signing_key(self) -> str:
        if not self.settings.audit_key:
            raise NotConfigured(
                "webhook endpoints need PAYMENTS_AUDIT_KEY: their signing secrets are "
                "derived from it"
            )
        return self.settings.audit_key

    def sender(self) -> WebhookSender:
        delivery = self.settings.delivery
        config = SenderConfig(
            policy=DeliveryPolicy(
                delivery.max_attempts, delivery.backoff_base_s, delivery.backoff_cap_s
            ),
            timeout_s=delivery.timeout_s,
            concurrency=delivery.concurrency,
            per_endpoint=delivery.per_endpoint,
            lease=timedelta(seconds=delivery.lease_s),
            public_only=self.settings.mode == "production",
        )
        return WebhookSender(self.deliveries, self.secret_of, config)
