"""Followers: what acts on the event log, driven by the same runner as the views.

A follower is a PostgresView whose batch and tracking position commit together (the
execution feed writes queue rows) or whose effects carry the positions they account for
(the wallet feed's SellerWallet credits), so a crash repeats nothing. Unlike a view it is not
rebuilt from zero: it holds work in progress, not a read model.
"""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.projections.core import TrackingConflict
from payments.projections.pg import PostgresView, qualify, tracking_ddl
from payments.projections.runner import ProjectionRunner
from payments.projections.source import EventSource

FOLLOWER_BATCH = 1000


def moved_tracking_ddl(schema: str | None, table: str, old_name: str) -> list[str]:
    """The follower's tracking table, its position taken from the table followers used before
    v0.2 (where the follower was `old_name`)."""
    create, default_row = tracking_ddl(schema, table)
    return [
        create,
        f"""
        DO $$ BEGIN
          IF to_regclass('executor_tracking') IS NOT NULL THEN
            INSERT INTO {qualify(None, table)} (application_name, notification_id)
            SELECT 'Payments', position FROM executor_tracking WHERE name = '{old_name}'
            ON CONFLICT (application_name) DO NOTHING;
          END IF;
        END $$
        """,
        default_row,
    ]


class FeedView(PostgresView):
    """A follower's view: it acts through the application, and its one table is its tracking
    row (taken over from the pre-v0.2 follower `former_name` when it had one)."""

    former_name: str | None = None

    def __init__(self, pool: ConnectionPool, application: PaymentsApplication) -> None:
        super().__init__(pool)
        self.application = application

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        if cls.former_name is None:
            return tracking_ddl(schema, cls.tables[-1])
        return moved_tracking_ddl(schema, cls.tables[-1], cls.former_name)


class Follower:
    """One follower view, one batch at a time (the executor's loop, a job, a request)."""

    def __init__(
        self, view: PostgresView, source: EventSource, batch_size: int = FOLLOWER_BATCH
    ) -> None:
        self.view = view
        self.runner = ProjectionRunner(view, source, batch_size=batch_size)

    @property
    def name(self) -> str:
        return self.view.name

    def run_once(self) -> int:
        """Apply the next batch; how many events it applied (0 when another process just
        did, or nothing is new)."""
        try:
            _, applied = self.runner.step(self.runner.source.head())
        except TrackingConflict:
            return 0  # another process applied this batch meanwhile
        return applied

    def run_until_idle(self) -> None:
        """Catch up with the log as it is now."""
        while True:
            try:
                self.runner.catch_up()
            except TrackingConflict:
                continue  # another process moved it meanwhile: go on from there
            return
