"""Sellers on /metrics (#17): how many per KYC status and suspension, read at scrape time from
the `sellers` view, so that a queue of pending KYC or a wave of suspensions shows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from payments.projections.metrics import registered_once

log = logging.getLogger("payments.kyc")

Counts = Callable[[], dict[tuple[str, bool], int]]
NAME = "payments_sellers"
HELP = "Sellers by KYC status (unverified, pending, verified, rejected) and suspension"


def _none() -> dict[tuple[str, bool], int]:
    return {}


class SellerMetrics(Collector):
    def __init__(self, counts: Counts = _none) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        found = self._counted()
        if found is None:
            return
        gauge = GaugeMetricFamily(NAME, HELP, labels=["kyc", "suspended"])
        for (kyc, suspended), number in sorted(found.items()):
            gauge.add_metric([kyc, str(suspended).lower()], number)
        yield gauge

    def _counted(self) -> dict[tuple[str, bool], int] | None:
        try:
            return self.counts()
        except Exception as error:  # the database is away: this scrape goes without
            log.warning("seller metrics unavailable", extra={"error": str(error)})
            return None


def expose_seller_metrics(counts: Counts) -> None:
    """One collector per process (the registry refuses a second); a new app's source wins."""
    registered_once(SellerMetrics).counts = counts
