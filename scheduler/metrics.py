"""The scheduled jobs on /metrics: when each last succeeded and whether it fails now, read
at scrape time from `scheduler_runs`, so that an alert fires when a nightly job (the
settlement reconcile, the seal, the backup) stops succeeding, whichever process runs it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from payments.projections.metrics import ScrapedCollector
from payments.scheduler.runner import JobHealth


class SchedulerMetrics(ScrapedCollector[list[JobHealth]]):
    logger = logging.getLogger("payments.scheduler")
    unavailable = "scheduler metrics unavailable"

    def families(self, found: list[JobHealth]) -> Iterator[Metric]:
        succeeded = GaugeMetricFamily(
            "payments_scheduler_last_success_timestamp_seconds",
            "When the job's last successful run finished (Unix time); absent before one",
            labels=["job"],
        )
        failing = GaugeMetricFamily(
            "payments_scheduler_job_failing",
            "1 when the job's latest run that did not skip failed",
            labels=["job"],
        )
        for job in found:
            if job.last_success is not None:
                succeeded.add_metric([job.job_id], job.last_success.timestamp())
            failing.add_metric([job.job_id], float(job.failing))
        yield succeeded
        yield failing
