"""The long-lived objects one API process shares: settings, event store, pool, stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from psycopg_pool import ConnectionPool

from payments.domain.application import OrderCommands, PaymentsApplication
from payments.domain.payout_commands import PayoutCommands
from payments.projections import catalog as projections_catalog
from payments.projections import seal, verifications
from payments.psp import execution_queue
from payments.runtime import idempotency
from payments.runtime.config import Settings
from payments.runtime.database import apply_schema, eventsourcing_env, open_pool
from payments.scheduler import jobs as scheduler_jobs

# Every table of ours; each statement is idempotent. Later components append theirs.
SCHEMA: list[str] = [
    *idempotency.SCHEMA,
    *execution_queue.SCHEMA,
    *projections_catalog.SCHEMA,
    *seal.SCHEMA,
    *scheduler_jobs.SCHEMA,
    *verifications.SCHEMA,
]


@dataclass
class Services:
    settings: Settings
    database_url: str
    application: PaymentsApplication
    pool: ConnectionPool
    idempotency: idempotency.IdempotencyStore
    orders: OrderCommands
    queue: execution_queue.ExecutionQueue
    psp_url: str | None = None

    @cached_property
    def payouts(self) -> PayoutCommands:
        return PayoutCommands(self.application)

    def close(self) -> None:
        self.pool.close()
        self.application.close()


def build_services(settings: Settings, database_url: str) -> Services:
    """Connect to the database, create our tables if needed, open the event store."""
    pool = open_pool(database_url, size=settings.db_pool_size)
    apply_schema(pool, SCHEMA)
    application = PaymentsApplication(
        settings.checkout_policy,
        env=eventsourcing_env(database_url, pool_size=settings.db_pool_size),
    )
    store = idempotency.IdempotencyStore(pool, timedelta(hours=settings.idempotency_ttl_hours))
    return Services(
        settings=settings,
        database_url=database_url,
        application=application,
        pool=pool,
        idempotency=store,
        orders=OrderCommands(application),
        queue=execution_queue.ExecutionQueue(pool),
        psp_url=settings.psp_url,
    )
