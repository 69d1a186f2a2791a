"""The payment executor: claims due orders, records ExecutionStarted, calls the PSP, records
the outcome. Exactly once in effect: the Idempotency-Key is the payment_order_id, so every
repeated call (retry, crash recovery, a second executor) gets the PSP's original answer.
Payouts go through the same machinery (psp/targets.py): their key is the payout_id.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from payments.domain.application import PaymentsApplication
from payments.domain.execution import (
    LookupAnswer,
    NotFoundAtPsp,
    PspAnswer,
    Rejected,
    RetryPolicy,
    confirm_rejection,
    full_jitter_delay,
)
from payments.domain.execution_commands import Answered, Executable, ExecutionCommands
from payments.projections.event_store import load_aggregates
from payments.projections.followers.execution_queue import ExecutionQueue, QueuedWork
from payments.projections.followers.follower import Follower, run_together
from payments.psp.client import PspClient
from payments.psp.targets import target_of

log = logging.getLogger("payments.executor")


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    batch_size: int = 64
    concurrency: int = 64
    parallel_batches: int = (
        4  # batches in flight at once: PSP calls of one overlap the DB of others
    )
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0
    lease: timedelta = timedelta(seconds=30)
    poll_interval_s: float = 0.1
    requery_delays: tuple[timedelta, ...] = field(
        default=(timedelta(minutes=5), timedelta(hours=1), timedelta(days=1))
    )

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.backoff_base_s, self.backoff_cap_s)


@dataclass
class _Work:
    row: QueuedWork
    order: Executable
    outcome: LookupAnswer | None = None

    def answered(self) -> Answered:
        assert self.outcome is not None
        assert not isinstance(self.outcome, NotFoundAtPsp)
        return Answered(self.order, self.outcome, requery=self.row.kind == "requery")


class PaymentExecutor:
    def __init__(
        self,
        application: PaymentsApplication,
        queue: ExecutionQueue,
        feeder: Follower,
        client: PspClient,
        config: ExecutorConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        followers: Sequence[Follower] = (),
    ) -> None:
        self.application = application
        self.queue = queue
        self.feeder = feeder
        self.client = client
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.followers = tuple(followers)
        self.owner = f"executor-{uuid.uuid4().hex[:12]}"
        self.commands = ExecutionCommands(application, self.rng)
        self._calls = ThreadPoolExecutor(config.concurrency, thread_name_prefix="psp-call")
        self._batches = ThreadPoolExecutor(config.parallel_batches, thread_name_prefix="batch")
        self._stop = threading.Event()

    # --- the loop ------------------------------------------------------------------

    def run_forever(self) -> None:
        """Feed the queue in this thread; work batches in parallel_batches threads of their own."""
        log.info("executor started", extra={"owner": self.owner})
        workers = [
            threading.Thread(target=self._loop, args=(self.run_once,), name=f"batches-{i}")
            for i in range(self.config.parallel_batches)
        ]
        for worker in workers:
            worker.start()
        self._loop(self.feed_once)
        for worker in workers:
            worker.join()
        log.info("executor stopped", extra={"owner": self.owner})

    def _loop(self, step: Callable[[], int]) -> None:
        while not self._stop.is_set():
            try:
                done = step()
            except Exception:
                log.exception("executor iteration failed; retrying")
                self._stop.wait(1.0)
                continue
            if not done:
                self._stop.wait(self.config.poll_interval_s)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """After stop(): wait for the batches in flight, then let go of the PSP client."""
        self._batches.shutdown(wait=True)
        self._calls.shutdown(wait=True)
        self.client.close()

    def run_until_idle(self, max_rounds: int = 10_000) -> None:
        """Feed and work until nothing is due (tests and benchmarks), batches in parallel."""
        parallel = range(self.config.parallel_batches)
        for _ in range(max_rounds):
            fed = self.feed_once()
            worked = sum(self._batches.map(lambda _: self.run_once(), parallel))
            if not fed and not worked:
                return

    def feed_once(self) -> int:
        """The queue's feeder and every other follower up to the head, from one read of the
        log for them all."""
        return run_together([self.feeder, *self.followers])

    # --- one batch -----------------------------------------------------------------

    def run_once(self) -> int:
        rows = self.queue.claim_due(self.owner, self.config.batch_size, self.config.lease)
        if not rows:
            return 0
        to_requery: list[_Work] = []
        to_execute: list[_Work] = []
        loaded = load_aggregates(
            self.application, self.queue.pool, (r.aggregate_uuid for r in rows)
        )
        for row in rows:
            order: Executable = loaded[row.aggregate_uuid]
            if not order.needs_executor:
                self.queue.finish(self.owner, row.aggregate_uuid)
            elif row.kind == "requery" or order.was_interrupted:
                to_requery.append(_Work(row, order))
            else:
                to_execute.append(_Work(row, order))
        for work, outcome in zip(
            to_requery, self._parallel(self._requery, to_requery), strict=True
        ):
            if isinstance(outcome, NotFoundAtPsp):
                to_execute.append(work)  # the call never reached the PSP: try it now
            else:
                work.outcome = outcome
        started = self._record_started(to_execute)
        for work, outcome in zip(started, self._parallel(self._charge, started), strict=True):
            work.outcome = outcome
        self._record_outcomes([w for w in to_requery + started if w.outcome is not None])
        return len(rows)

    def _parallel(
        self, call: Callable[[Executable], LookupAnswer], works: Sequence[_Work]
    ) -> list[LookupAnswer]:
        return list(self._calls.map(lambda w: call(w.order), works))

    def _charge(self, aggregate: Executable) -> PspAnswer:
        target = target_of(aggregate)
        answer = target.call(self.client, aggregate)
        if isinstance(answer, Rejected):  # a 4xx is final only once a look-up finds nothing
            return confirm_rejection(answer, target.requery(self.client, aggregate))
        return answer

    def _requery(self, aggregate: Executable) -> LookupAnswer:
        return target_of(aggregate).requery(self.client, aggregate)

    def _record_started(self, works: list[_Work]) -> list[_Work]:
        """ExecutionStarted for every order about to be called, saved before any call."""
        saved = self.commands.start_attempts(works, lambda work: work.order)
        return [_Work(work.row, fresh) for work, fresh in saved]

    def _record_outcomes(self, works: list[_Work]) -> None:
        now = self.clock()
        saved = self.commands.record_answers(works, _Work.answered, now, self.config.retry_policy)
        for work, fresh in saved:
            work.order = fresh
        done = [w for w, _ in saved]
        # One statement for every order that is done; the rest are rescheduled one by one.
        finished = [w.row.aggregate_uuid for w in done if not w.order.needs_executor]
        self.queue.finish_many(self.owner, finished)
        for work in done:
            if work.order.needs_executor:
                self._update_queue(work, now)

    def _update_queue(self, work: _Work, now: datetime) -> None:
        order, row = work.order, work.row
        if not order.needs_executor:
            self.queue.finish(self.owner, row.aggregate_uuid)
        elif order.pending_at_psp:
            delays = self.config.requery_delays
            requeries = row.requeries + 1 if row.kind == "requery" else 0
            wait = delays[min(requeries, len(delays) - 1)]
            self.queue.reschedule(self.owner, row.aggregate_uuid, "requery", now + wait, requeries)
        elif order.next_attempt_at is not None:
            self.queue.reschedule(
                self.owner, row.aggregate_uuid, "execute", order.next_attempt_at, 0
            )
        else:
            # A re-query that failed: try again after a short backoff.
            delay = full_jitter_delay(row.requeries + 1, 1.0, 60.0, self.rng)
            self.queue.reschedule(
                self.owner,
                row.aggregate_uuid,
                row.kind,
                now + timedelta(seconds=delay),
                row.requeries + 1,
            )
