"""Webhooks to merchants on /metrics (ADR 0027): what waits to be delivered, how long the
oldest has waited, and what failed for good, read at scrape time so that an endpoint that
stopped answering (or a sender that stopped) shows."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from payments.projections.followers.webhook_deliveries import Backlog
from payments.projections.metrics import ScrapedCollector


class WebhookMetrics(ScrapedCollector[Backlog]):
    logger = logging.getLogger("payments.webhooks")
    unavailable = "webhook metrics unavailable"

    def families(self, found: Backlog) -> Iterator[Metric]:
        deliveries = GaugeMetricFamily(
            "payments_webhook_deliveries",
            "Deliveries to merchants' endpoints still pending, and failed after every attempt",
            labels=["status"],
        )
        deliveries.add_metric(["pending"], found.pending)
        deliveries.add_metric(["failed"], found.failed)
        yield deliveries
        oldest = found.oldest_pending
        yield GaugeMetricFamily(
            "payments_webhook_oldest_pending_seconds",
            "How long the oldest pending delivery has waited (0 when none waits)",
            value=0.0 if oldest is None else max(0.0, (self.clock() - oldest).total_seconds()),
        )
