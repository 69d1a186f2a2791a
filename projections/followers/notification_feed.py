"""The notification feed: each event a webhook endpoint subscribed to becomes a delivery.

It follows the endpoints' own events and the events merchants may subscribe to
(domain/webhook_endpoint.EVENT_TYPES) in log order, in one transaction with its position:
an endpoint hears every event of its types (those it had when the event was recorded)
recorded after it was created and while it was not disabled, exactly once as a row
(webhook_deliveries), whatever crashes. Which endpoints want what is its own table
(`webhook_subscriptions`), moved by the same batches, never a view that could be ahead of or
behind it. An endpoint of one seller hears only the events about that seller, as the
event's object was created (an order's, a refund's, a payout's seller).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from payments.domain.webhook_endpoint import (
    PING_TYPE,
    TOPICS,
    WebhookEndpoint,
    hears_seller,
    public_type,
)
from payments.projections.core import TrackedEvent
from payments.projections.event_store import load_created
from payments.projections.followers.follower import FeedView
from payments.projections.followers.webhook_deliveries import (
    NewDelivery,
    cancel_pending,
    insert_deliveries,
)
from payments.projections.followers.webhook_events import body_of, delivery_id_of, event_id_of
from payments.projections.pg import Connection, qualify, tracking_ddl

ENDPOINT_TOPICS = frozenset(
    str(cls.TOPIC)
    for cls in (
        WebhookEndpoint.Created,
        WebhookEndpoint.SecretRotated,
        WebhookEndpoint.Disabled,
        WebhookEndpoint.Enabled,
        WebhookEndpoint.Pinged,
        WebhookEndpoint.Updated,
        WebhookEndpoint.TypesChanged,
    )
)


@dataclass(frozen=True, slots=True)
class Subscription:
    endpoint_id: str
    event_types: frozenset[str]
    created_position: int
    disabled_position: int | None
    seller_account: str | None = None  # None: every seller's events
    # The types it heard before each change of them: (the change's position, the types
    # until then), oldest first; `event_types` are those since the last change.
    earlier_types: tuple[tuple[int, frozenset[str]], ...] = ()
    # The stretches it was disabled and enabled again: (the disabling's position, the
    # enabling's), oldest first; `disabled_position` is the disabling still in force.
    earlier_disabled: tuple[tuple[int, int], ...] = ()

    def wants(self, event_type: str, position: int) -> bool:
        """Whether the event of this type at this position is one to deliver here."""
        return event_type in self.types_at(position) and self.enabled_at(position)

    def types_at(self, position: int) -> frozenset[str]:
        for until, types in self.earlier_types:
            if position < until:
                return types
        return self.event_types

    def types_changed(self, position: int, event_types: frozenset[str]) -> Subscription:
        """The subscription after a change of its types at `position` (once: a change
        already applied, as when a batch is applied again, changes nothing)."""
        if any(until >= position for until, _ in self.earlier_types):
            return self
        earlier = (*self.earlier_types, (position, self.event_types))
        return dataclasses.replace(self, event_types=event_types, earlier_types=earlier)

    def earlier_types_json(self) -> Jsonb:
        return Jsonb([[until, sorted(types)] for until, types in self.earlier_types])

    def enabled_at(self, position: int) -> bool:
        return (
            self.created_position < position
            and (self.disabled_position is None or position < self.disabled_position)
            and not any(since <= position < until for since, until in self.earlier_disabled)
        )

    def disabled_at(self, position: int) -> Subscription:
        """The subscription after a disabling at `position` (once: one already applied, as
        when a batch is applied again, changes nothing)."""
        if self.disabled_position is not None or self._enabled_since(position):
            return self
        return dataclasses.replace(self, disabled_position=position)

    def enabled_again_at(self, position: int) -> Subscription:
        """The subscription after an enabling at `position` (once, likewise)."""
        if self.disabled_position is None or self._enabled_since(position):
            return self
        stretch = (self.disabled_position, position)
        return dataclasses.replace(
            self, disabled_position=None, earlier_disabled=(*self.earlier_disabled, stretch)
        )

    def _enabled_since(self, position: int) -> bool:
        return any(until >= position for _, until in self.earlier_disabled)

    def earlier_disabled_json(self) -> Jsonb:
        return Jsonb([list(stretch) for stretch in self.earlier_disabled])


class NotificationFeed(FeedView):
    name = "notification_feed"
    topics: frozenset[str] | None = ENDPOINT_TOPICS | TOPICS
    tables = ("webhook_subscriptions", "notification_feed_tracking")

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {qualify(schema, "webhook_subscriptions")} (
                endpoint_uuid uuid PRIMARY KEY,
                endpoint_id text NOT NULL UNIQUE,
                url text NOT NULL,
                event_types text[] NOT NULL,
                generation integer NOT NULL,
                previous_until timestamptz,
                disabled_at timestamptz,
                created_position bigint NOT NULL,
                disabled_position bigint
            )
            """,
            # v0.9.0: an endpoint of one seller (older rows: every seller's, as they were).
            f"ALTER TABLE {qualify(schema, 'webhook_subscriptions')} "
            "ADD COLUMN IF NOT EXISTS seller_account text",
            # v0.10.0: the types heard before each change of them (older rows: never changed).
            f"ALTER TABLE {qualify(schema, 'webhook_subscriptions')} "
            "ADD COLUMN IF NOT EXISTS earlier_types jsonb NOT NULL DEFAULT '[]'",
            # v0.11.0: the stretches it was disabled before an enabling (older rows: none).
            f"ALTER TABLE {qualify(schema, 'webhook_subscriptions')} "
            "ADD COLUMN IF NOT EXISTS earlier_disabled jsonb NOT NULL DEFAULT '[]'",
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        table = self.t("webhook_subscriptions")
        # Every endpoint ever made, with the positions it was made, disabled and enabled at:
        # an event goes to those made before it and not disabled at its position, so that
        # applying a batch again (whatever the table says by then) makes the same deliveries.
        known: dict[UUID, Subscription] = {
            row[0]: Subscription(
                row[1],
                frozenset(row[2]),
                row[3],
                row[4],
                row[5],
                tuple((int(until), frozenset(types)) for until, types in row[6]),
                tuple((int(since), int(until)) for since, until in row[7]),
            )
            for row in conn.execute(
                f"SELECT endpoint_uuid, endpoint_id, event_types, created_position, "
                f"disabled_position, seller_account, earlier_types, earlier_disabled "
                f"FROM {table}"
            )
        }
        to_notify: list[tuple[TrackedEvent, str, list[Subscription]]] = []
        for tracked in events:
            e, position = tracked.event, tracked.notification_id
            if isinstance(e, WebhookEndpoint.Created):
                conn.execute(
                    f"INSERT INTO {table} (endpoint_uuid, endpoint_id, url, event_types, "
                    "generation, created_position, seller_account) "
                    "VALUES (%s, %s, %s, %s, 1, %s, %s) ON CONFLICT DO NOTHING",
                    (e.originator_id, e.endpoint_id, e.url, list(e.event_types), position,
                     e.seller_account),
                )  # fmt: skip
                known.setdefault(
                    e.originator_id,
                    Subscription(
                        e.endpoint_id, frozenset(e.event_types), position, None, e.seller_account
                    ),
                )
            elif isinstance(e, WebhookEndpoint.SecretRotated):
                conn.execute(
                    f"UPDATE {table} SET generation = %s, previous_until = %s "
                    "WHERE endpoint_uuid = %s",
                    (e.generation, e.previous_until, e.originator_id),
                )
            elif isinstance(e, WebhookEndpoint.Updated):
                # The sender reads the URL here when it claims: waiting deliveries go there.
                conn.execute(
                    f"UPDATE {table} SET url = %s WHERE endpoint_uuid = %s",
                    (e.url, e.originator_id),
                )
            elif isinstance(e, WebhookEndpoint.TypesChanged):
                endpoint = known.get(e.originator_id)
                if endpoint is not None:
                    known[e.originator_id] = changed = endpoint.types_changed(
                        position, frozenset(e.event_types)
                    )
                    conn.execute(
                        f"UPDATE {table} SET event_types = %s, earlier_types = %s "
                        "WHERE endpoint_uuid = %s",
                        (sorted(changed.event_types), changed.earlier_types_json(),
                         e.originator_id),
                    )  # fmt: skip
            elif isinstance(e, WebhookEndpoint.Disabled):
                endpoint = known.get(e.originator_id)
                if endpoint is not None:
                    known[e.originator_id] = disabled = endpoint.disabled_at(position)
                    if disabled is not endpoint:
                        conn.execute(
                            f"UPDATE {table} SET disabled_at = %s, disabled_position = %s "
                            "WHERE endpoint_uuid = %s",
                            (e.timestamp, position, e.originator_id),
                        )
                    if to_notify:  # what this batch owes it from before: made, then cancelled
                        insert_deliveries(conn, self._deliveries(to_notify))
                        to_notify = []
                    # What it was owed from before the disabling (applied again, not what
                    # it has been owed since an enabling).
                    cancel_pending(conn, endpoint.endpoint_id, before=position)
            elif isinstance(e, WebhookEndpoint.Enabled):
                endpoint = known.get(e.originator_id)
                if endpoint is not None:
                    known[e.originator_id] = enabled = endpoint.enabled_again_at(position)
                    if enabled is not endpoint:
                        conn.execute(
                            f"UPDATE {table} SET disabled_at = NULL, disabled_position = NULL, "
                            "earlier_disabled = %s WHERE endpoint_uuid = %s",
                            (enabled.earlier_disabled_json(), e.originator_id),
                        )
            elif isinstance(e, WebhookEndpoint.Pinged):
                endpoint = known.get(e.originator_id)
                if endpoint is not None and endpoint.enabled_at(position):
                    # A test event is for that endpoint whatever it hears, seller or not.
                    anyone = dataclasses.replace(endpoint, seller_account=None)
                    to_notify.append((tracked, PING_TYPE, [anyone]))
            else:
                event_type = public_type(e)
                if event_type is None:
                    continue
                targets = [s for s in known.values() if s.wants(event_type, position)]
                if targets:
                    to_notify.append((tracked, event_type, targets))
        if to_notify:
            insert_deliveries(conn, self._deliveries(to_notify))

    def _deliveries(
        self, to_notify: list[tuple[TrackedEvent, str, list[Subscription]]]
    ) -> list[NewDelivery]:
        created = load_created(
            self.application, self.pool, {t.event.originator_id for t, _, _ in to_notify}
        )
        deliveries = []
        for tracked, event_type, subscriptions in to_notify:
            made: Any = created.get(tracked.event.originator_id, tracked.event)
            seller = getattr(made, "seller_account", None)  # whom the event is about
            endpoints = [
                s.endpoint_id for s in subscriptions if hears_seller(s.seller_account, seller)
            ]
            if not endpoints:
                continue
            body = body_of(tracked, event_type, made)
            event_id = event_id_of(tracked)
            deliveries += [
                NewDelivery(
                    delivery_id_of(event_id, endpoint_id),
                    endpoint_id,
                    event_id,
                    event_type,
                    tracked.notification_id,
                    body,
                )
                for endpoint_id in endpoints
            ]
        return deliveries
