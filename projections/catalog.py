"""The projections this system runs, their tables, and the live views the API reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from payments.projections import status
from payments.projections.followers import execution_queue, webhook_deliveries
from payments.projections.followers.execution_feed import ExecutionFeed
from payments.projections.followers.notification_feed import NotificationFeed
from payments.projections.followers.release_feed import ReleaseFeed
from payments.projections.followers.risk_feed import RiskFeed
from payments.projections.followers.wallet_feed import WalletFeed
from payments.projections.pg import PostgresView
from payments.projections.source import ApplicationEventSource
from payments.projections.views.access import ApiKeysView, AuditActionsView
from payments.projections.views.disputes import DisputesView
from payments.projections.views.ledger_pg import PostgresLedger
from payments.projections.views.order_status_pg import PostgresOrderStatusView
from payments.projections.views.payouts import PayoutsView
from payments.projections.views.public_event_ids import PublicEventIdsView
from payments.projections.views.reconciliation import ReconciliationExceptionsView
from payments.projections.views.refunds import RefundsView
from payments.projections.views.sellers import SellersView
from payments.projections.views.wallets_pg import PostgresWallets
from payments.projections.views.webhook_endpoints import WebhookEndpointsView

VIEW_CLASSES: dict[str, type[PostgresView]] = {
    PostgresOrderStatusView.name: PostgresOrderStatusView,
    PostgresLedger.name: PostgresLedger,
    PostgresWallets.name: PostgresWallets,
    ApiKeysView.name: ApiKeysView,
    AuditActionsView.name: AuditActionsView,
    SellersView.name: SellersView,
    PayoutsView.name: PayoutsView,
    WebhookEndpointsView.name: WebhookEndpointsView,
    DisputesView.name: DisputesView,
    ReconciliationExceptionsView.name: ReconciliationExceptionsView,
    RefundsView.name: RefundsView,
    PublicEventIdsView.name: PublicEventIdsView,
}
NAMES: tuple[str, ...] = tuple(VIEW_CLASSES)

# Followers act on the log instead of showing it (projections/followers/): not rebuilt.
FOLLOWER_CLASSES: tuple[type[PostgresView], ...] = (
    ExecutionFeed,
    ReleaseFeed,
    WalletFeed,
    RiskFeed,
    NotificationFeed,
)

# Every table of the projections and followers, live (unqualified) and idempotent, plus
# projection_status. Followers tracked their positions in `executor_tracking` before v0.2.
SCHEMA: list[str] = [
    *status.SCHEMA,
    *(statement for cls in VIEW_CLASSES.values() for statement in cls.ddl(None)),
    *execution_queue.SCHEMA,
    *(statement for cls in FOLLOWER_CLASSES for statement in cls.ddl(None)),
    *webhook_deliveries.SCHEMA,
    "DROP TABLE IF EXISTS executor_tracking",
]


def tracking_tables() -> dict[str, str]:
    return {name: cls.tables[-1] for name, cls in VIEW_CLASSES.items()}


def projection_states(
    application: Application[Any], pool: ConnectionPool
) -> list[status.ProjectionState]:
    """Each view's state, position and lag behind the log (CLI, /metrics)."""
    return status.read_states(pool, ApplicationEventSource(application), tracking_tables())


def live_view(pool: ConnectionPool, name: str) -> PostgresView:
    try:
        return VIEW_CLASSES[name](pool)
    except KeyError:
        raise ValueError(f"unknown projection {name!r}; known: {', '.join(NAMES)}") from None


@dataclass(frozen=True, slots=True)
class LiveViews:
    """The views the API reads."""

    order_status: PostgresOrderStatusView
    ledger: PostgresLedger
    wallets: PostgresWallets

    @classmethod
    def on(cls, pool: ConnectionPool) -> LiveViews:
        return cls(PostgresOrderStatusView(pool), PostgresLedger(pool), PostgresWallets(pool))
