"""Followers: what acts on the event log, driven by the same runner as the views.

A follower is a PostgresView whose batch and tracking position commit together (the
execution feed writes queue rows) or whose effects carry the positions they account for
(the wallet feed's SellerWallet credits), so a crash repeats nothing. Unlike a view it is not
rebuilt from zero: it holds work in progress, not a read model.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.projections.core import ProjectionPoisoned, TrackingConflict
from payments.projections.pg import PostgresView, qualify, tracking_ddl
from payments.projections.runner import ProjectionRunner, catch_up_together
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


def run_together(followers: Sequence[Follower]) -> int:
    """Bring every follower up to the head reading the log once for them all (each event
    read and decoded once, as live views do); how many events they applied. One that meets a
    poisoned event stops there while the others go on; then it is raised, as its own
    run_once would (the executor's loop logs it and waits). A concurrent writer's move ends
    the round early: the next one goes on from where each follower stands."""
    if not followers:
        return 0
    runners = [follower.runner for follower in followers]
    source = runners[0].source
    poisoned: list[ProjectionPoisoned] = []
    try:
        applied = catch_up_together(
            runners, [source.head()] * len(runners), on_poisoned=poisoned.append
        )
    except TrackingConflict:
        return 0  # another process applied some of it meanwhile
    if poisoned:
        raise poisoned[0]
    return sum(applied)
