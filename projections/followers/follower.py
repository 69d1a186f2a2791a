"""Followers: what acts on the event log, driven by the same runner as the views.

A follower is a PostgresView whose batch and tracking position commit together (the
execution feed writes queue rows) or whose effects carry the positions they account for
(the wallet feed's SellerWallet credits), so a crash repeats nothing. Unlike a view it is not
rebuilt from zero: it holds work in progress, not a read model.
"""

from __future__ import annotations

from payments.projections.core import TrackingConflict
from payments.projections.pg import PostgresView
from payments.projections.runner import ProjectionRunner
from payments.projections.source import EventSource

FOLLOWER_BATCH = 1000


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
