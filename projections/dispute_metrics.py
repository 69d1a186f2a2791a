"""Disputes on /metrics (ADR 0014): how many await the merchant's evidence, and how long until
the soonest deadline, read at scrape time from the `disputes` view, so that an alert can fire
a day before a dispute is lost for want of an answer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric

from payments.projections.metrics import ScrapedCollector

# How many disputes await evidence, and the soonest deadline among them (None when none).
Awaiting = tuple[int, datetime | None]


class DisputeMetrics(ScrapedCollector[Awaiting]):
    logger = logging.getLogger("payments.disputes")
    unavailable = "dispute metrics unavailable"

    def families(self, found: Awaiting) -> Iterator[Metric]:
        count, soonest = found
        yield GaugeMetricFamily(
            "payments_disputes_awaiting_evidence",
            "Disputes whose evidence is still to be sent (status needs_response)",
            value=count,
        )
        if soonest is not None:
            yield GaugeMetricFamily(
                "payments_dispute_evidence_due_seconds",
                "Seconds until the soonest evidence deadline of a dispute awaiting evidence "
                "(negative once it has passed); absent when none awaits",
                value=(soonest - self.clock()).total_seconds(),
            )
