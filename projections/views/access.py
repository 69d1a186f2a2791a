"""Who may call, and who did what: the API keys and the audit trail of actions (DESIGN §11).

Both are folded from events, so they rebuild like every view: `api_keys` holds each key's
current state (never its secret: not even the hash is copied here), `audit_actions` one row
per command an operator, finance or admin key performed, with the key id that did it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments.domain.api_key import ApiKey
from payments.domain.dispute import Dispute
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.refund import Refund
from payments.domain.seller import Seller
from payments.projections.core import TrackedEvent
from payments.projections.pg import Connection, PostgresView, fetch_all, qualify, tracking_ddl

KEYS_NAME, ACTIONS_NAME = "api_keys", "audit_actions"


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a key did: what, to which subject, when, at which position."""

    position: int
    recorded_at: datetime
    actor: str
    action: str
    subject: str
    detail: str


ActionRule = Callable[[Any], tuple[str, str, str, str] | None]  # actor, action, subject, detail


def _key_created(e: ApiKey.Created) -> tuple[str, str, str, str]:
    seller = f", seller {e.seller_account}" if e.seller_account else ""
    return e.created_by, "api_key.created", e.key_id, f"role {e.role}{seller}, name {e.name!r}"


def _payout_created(e: Payout.Created) -> tuple[str, str, str, str] | None:
    if e.requested_by is None:
        return None  # a scheduled payout run, not a person's command
    detail = f"seller {e.seller_account}, {e.amount_minor} {e.currency} (minor units)"
    return e.requested_by, "payout.requested", e.payout_id, detail


ACTION_RULES: dict[type[Any], ActionRule] = {
    ApiKey.Created: _key_created,
    ApiKey.Revoked: lambda e: (e.revoked_by, "api_key.revoked", "", e.reason),
    ApiKey.ExpirySet: lambda e: (
        e.set_by,
        "api_key.rotated",
        "",
        f"replaced by {e.replaced_by}, valid until {e.expires_at.isoformat()}",
    ),
    PaymentOrder.DeadLetterReplayed: lambda e: (e.actor, "order.replayed", e.reference, e.reason),
    PaymentOrder.RiskReviewed: lambda e: (
        e.actor,
        "order.risk_approved" if e.approved else "order.risk_declined",
        e.reference,
        e.reason,
    ),
    Payout.DeadLetterReplayed: lambda e: (e.actor, "payout.replayed", e.reference, e.reason),
    Payout.Created: _payout_created,
    Dispute.EvidenceSubmitted: lambda e: (
        e.submitted_by,
        "dispute.evidence_submitted",
        e.payment_order_id,
        e.summary,
    ),
    Refund.Requested: lambda e: (
        e.requested_by,
        "refund.requested",
        e.refund_id,
        f"order {e.payment_order_id}, {e.amount_minor} {e.currency} (minor units)",
    ),
    Refund.DeadLetterReplayed: lambda e: (e.actor, "refund.replayed", e.reference, e.reason),
    Seller.Registered: lambda e: (
        e.registered_by,
        "seller.registered",
        e.seller_account,
        f"country {e.country}",
    ),
    Seller.Suspended: lambda e: (e.suspended_by, "seller.suspended", e.seller_account, e.reason),
    Seller.Reinstated: lambda e: (
        e.reinstated_by,
        "seller.reinstated",
        e.seller_account,
        e.reason,
    ),
}


def action_of(tracked: TrackedEvent, key_ids: dict[Any, str]) -> Action | None:
    """The action an event records, or None; `key_ids` names keys by aggregate id."""
    rule = ACTION_RULES.get(type(tracked.event))
    found = rule(tracked.event) if rule else None
    if found is None:
        return None
    actor, action, subject, detail = found
    if action.startswith("api_key.") and not subject:
        subject = key_ids.get(tracked.event.originator_id, "")
    return Action(tracked.notification_id, tracked.event.timestamp, actor, action, subject, detail)


class AuditActionsView(PostgresView):
    name = ACTIONS_NAME
    topics: frozenset[str] | None = frozenset(str(cls.TOPIC) for cls in ACTION_RULES)
    tables = ("audit_action_keys", "audit_actions", "audit_actions_tracking")

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {qualify(schema, "audit_action_keys")} (
                key_uuid uuid PRIMARY KEY,
                key_id text NOT NULL
            )
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {qualify(schema, "audit_actions")} (
                position bigint PRIMARY KEY,
                recorded_at timestamptz NOT NULL,
                actor text NOT NULL,
                action text NOT NULL,
                subject text NOT NULL,
                detail text NOT NULL
            )
            """,
            f"CREATE INDEX IF NOT EXISTS audit_actions_actor ON "
            f"{qualify(schema, 'audit_actions')} (actor, position)",
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        keys = self.t("audit_action_keys")
        created = [t for t in events if isinstance(t.event, ApiKey.Created)]
        for tracked in created:
            conn.execute(
                f"INSERT INTO {keys} VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (tracked.event.originator_id, tracked.event.key_id),
            )
        wanted = list({t.event.originator_id for t in events if isinstance(t.event, ApiKey.Event)})
        key_ids: dict[Any, str] = (
            dict(
                conn.execute(
                    f"SELECT key_uuid, key_id FROM {keys} WHERE key_uuid = ANY(%b)", (wanted,)
                ).fetchall()
            )
            if wanted
            else {}
        )
        rows = [a for t in events if (a := action_of(t, key_ids)) is not None]
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.t('audit_actions')} VALUES (%s, %s, %s, %s, %s, %s)",
                [(a.position, a.recorded_at, a.actor, a.action, a.subject, a.detail) for a in rows],
            )

    def actions(
        self, *, actor: str | None, after: int, limit: int, action: str | None = None
    ) -> list[Action]:
        """Actions after a position, oldest first, of one key (and one action) or all."""
        rows = fetch_all(
            self.pool,
            f"SELECT position, recorded_at, actor, action, subject, detail "
            f"FROM {self.t('audit_actions')} WHERE position > %s "
            "AND (%s::text IS NULL OR actor = %s) AND (%s::text IS NULL OR action = %s) "
            "ORDER BY position LIMIT %s",
            (after, actor, actor, action, action, limit),
        )
        return [Action(*row) for row in rows]

    def action_names(self) -> list[str]:
        """Every kind of action recorded so far (for a filter's choices)."""
        rows = fetch_all(
            self.pool,
            f"SELECT DISTINCT action FROM {self.t('audit_actions')} ORDER BY action",
        )
        return [str(row[0]) for row in rows]


@dataclass(frozen=True, slots=True)
class KeyRow:
    key_id: str
    role: str
    seller_account: str | None
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    expires_at: datetime | None
    replaced_by: str | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return f"revoked {self.revoked_at:%Y-%m-%d %H:%M}"
        if self.expires_at is not None:
            return f"replaced by {self.replaced_by}, valid until {self.expires_at:%Y-%m-%d %H:%M}"
        return "active"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "role": self.role,
            "seller_account": self.seller_account,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "replaced_by": self.replaced_by,
        }


class ApiKeysView(PostgresView):
    name = KEYS_NAME
    topics: frozenset[str] | None = frozenset(
        str(cls.TOPIC) for cls in (ApiKey.Created, ApiKey.Revoked, ApiKey.ExpirySet)
    )
    tables = ("api_keys", "api_keys_tracking")

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {qualify(schema, "api_keys")} (
                key_uuid uuid PRIMARY KEY,
                key_id text NOT NULL UNIQUE,
                role text NOT NULL,
                seller_account text,
                name text NOT NULL,
                created_at timestamptz NOT NULL,
                created_by text NOT NULL,
                revoked_at timestamptz,
                expires_at timestamptz,
                replaced_by text
            )
            """,
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        table = self.t("api_keys")
        for tracked in events:
            e = tracked.event
            if isinstance(e, ApiKey.Created):
                conn.execute(
                    f"INSERT INTO {table} (key_uuid, key_id, role, seller_account, name, "
                    "created_at, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (e.originator_id, e.key_id, e.role, e.seller_account, e.name, e.timestamp,
                     e.created_by),
                )  # fmt: skip
            elif isinstance(e, ApiKey.Revoked):
                conn.execute(
                    f"UPDATE {table} SET revoked_at = %s WHERE key_uuid = %s",
                    (e.timestamp, e.originator_id),
                )
            elif isinstance(e, ApiKey.ExpirySet):
                conn.execute(
                    f"UPDATE {table} SET expires_at = %s, replaced_by = %s WHERE key_uuid = %s",
                    (e.expires_at, e.replaced_by, e.originator_id),
                )

    def keys(self) -> list[KeyRow]:
        rows = fetch_all(
            self.pool,
            f"SELECT key_id, role, seller_account, name, created_at, created_by, "
            f"revoked_at, expires_at, replaced_by FROM {self.t('api_keys')} "
            "ORDER BY created_at, key_id",
        )
        return [KeyRow(*row) for row in rows]
