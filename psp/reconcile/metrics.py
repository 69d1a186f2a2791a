"""Reconciliation on /metrics: how many days are not reconciled, read at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("payments.reconcile")


class ReconciliationMetrics(Collector):
    def __init__(self) -> None:
        self.days_behind: Callable[[], int] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.days_behind is None:
            return
        try:
            behind = self.days_behind()
        except Exception as error:
            log.warning("reconciliation metrics unavailable", extra={"error": str(error)})
            return
        yield GaugeMetricFamily(
            "payments_reconciliation_days_behind",
            "Days up to yesterday whose settlement file is not reconciled yet",
            value=behind,
        )


_metrics: ReconciliationMetrics | None = None


def expose_reconciliation_metrics(days_behind: Callable[[], int]) -> None:
    """Register the collector once per process; a later call replaces its data source."""
    global _metrics
    if _metrics is None:
        _metrics = ReconciliationMetrics()
        REGISTRY.register(_metrics)
    _metrics.days_behind = days_behind
