"""The webhook endpoints view: each endpoint as the API lists it (ADR 0027).

Folded from the endpoints' events, so it rebuilds and verifies like every view; the API
catches it up before listing, as it does the keys' view, so an endpoint just made is listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from payments.domain.webhook_endpoint import WebhookEndpoint
from payments.projections.core import TrackedEvent
from payments.projections.pg import Connection, PostgresView, fetch_all, qualify, tracking_ddl

NAME = "webhook_endpoints"


@dataclass(frozen=True, slots=True)
class EndpointRow:
    endpoint_id: str
    url: str
    event_types: list[str]
    description: str
    created_at: datetime
    created_by: str
    secret_generation: int
    disabled_at: datetime | None
    disabled_reason: str | None
    seller_account: str | None  # None: every seller's events


class WebhookEndpointsView(PostgresView):
    name = NAME
    topics: frozenset[str] | None = frozenset(
        str(cls.TOPIC)
        for cls in (
            WebhookEndpoint.Created,
            WebhookEndpoint.SecretRotated,
            WebhookEndpoint.Disabled,
            WebhookEndpoint.Enabled,
            WebhookEndpoint.Updated,
            WebhookEndpoint.TypesChanged,
        )
    )
    tables = ("webhook_endpoints", "webhook_endpoints_tracking")

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {qualify(schema, "webhook_endpoints")} (
                endpoint_uuid uuid PRIMARY KEY,
                endpoint_id text NOT NULL UNIQUE,
                url text NOT NULL,
                event_types text[] NOT NULL,
                description text NOT NULL,
                created_at timestamptz NOT NULL,
                created_by text NOT NULL,
                secret_generation integer NOT NULL,
                disabled_at timestamptz,
                disabled_reason text
            )
            """,
            # v0.9.0: an endpoint of one seller (older rows: every seller's, as they were).
            f"ALTER TABLE {qualify(schema, 'webhook_endpoints')} "
            "ADD COLUMN IF NOT EXISTS seller_account text",
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        table = self.t("webhook_endpoints")
        for tracked in events:
            e = tracked.event
            if isinstance(e, WebhookEndpoint.Created):
                conn.execute(
                    f"INSERT INTO {table} (endpoint_uuid, endpoint_id, url, event_types, "
                    "description, created_at, created_by, secret_generation, seller_account) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s)",
                    (e.originator_id, e.endpoint_id, e.url, list(e.event_types), e.description,
                     e.timestamp, e.created_by, e.seller_account),
                )  # fmt: skip
            elif isinstance(e, WebhookEndpoint.Updated):
                conn.execute(
                    f"UPDATE {table} SET url = %s, description = %s WHERE endpoint_uuid = %s",
                    (e.url, e.description, e.originator_id),
                )
            elif isinstance(e, WebhookEndpoint.TypesChanged):
                conn.execute(
                    f"UPDATE {table} SET event_types = %s WHERE endpoint_uuid = %s",
                    (list(e.event_types), e.originator_id),
                )
            elif isinstance(e, WebhookEndpoint.SecretRotated):
                conn.execute(
                    f"UPDATE {table} SET secret_generation = %s WHERE endpoint_uuid = %s",
                    (e.generation, e.originator_id),
                )
            elif isinstance(e, WebhookEndpoint.Disabled):
                conn.execute(
                    f"UPDATE {table} SET disabled_at = %s, disabled_reason = %s "
                    "WHERE endpoint_uuid = %s",
                    (e.timestamp, e.reason, e.originator_id),
                )
            elif isinstance(e, WebhookEndpoint.Enabled):
                conn.execute(
                    f"UPDATE {table} SET disabled_at = NULL, disabled_reason = NULL "
                    "WHERE endpoint_uuid = %s",
                    (e.originator_id,),
                )

    def endpoints(self, seller_account: str | None = None) -> list[EndpointRow]:
        """Every endpoint, oldest first; with `seller_account`, those of that seller alone."""
        rows = fetch_all(
            self.pool,
            "SELECT endpoint_id, url, event_types, description, created_at, created_by, "
            "secret_generation, disabled_at, disabled_reason, seller_account "
            f"FROM {self.t('webhook_endpoints')} "
            "WHERE %s::text IS NULL OR seller_account = %s ORDER BY created_at, endpoint_id",
            (seller_account, seller_account),
        )
        return [EndpointRow(*row) for row in rows]
