"""Sellers on /metrics (#17): how many per KYC status and suspension, read at scrape time from
the `sellers` view, so that a queue of pending KYC or a wave of suspensions shows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from payments.projections.metrics import read_at_scrape, registered_once

log = logging.getLogger("payments.kyc")

Counts = Callable[[], dict[tuple[str, bool], int]]
NAME = "payments_sellers"
HELP = "Sellers by KYC status (unverified, pending, verified, rejected) and suspension"


class SellerMetrics(Collector):
    def __init__(self) -> None:
        self.counts: Counts | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        found = read_at_scrape(self.counts, log, "seller metrics unavailable")
        if found is None:
            return
        gauge = GaugeMetricFamily(NAME, HELP, labels=["kyc", "suspended"])
        for (kyc, suspended), number in sorted(found.items()):
            gauge.add_metric([kyc, str(suspended).lower()], number)
        yield gauge


def expose_seller_metrics(counts: Counts) -> None:
    """Register the collector once per process; a later call replaces its data source."""
    registered_once(SellerMetrics).counts = counts
