"""Sellers on /metrics (#17): how many per KYC status and suspension, read at scrape time from
the `sellers` view, so that a queue of pending KYC or a wave of suspensions shows."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from payments.projections.metrics import ScrapedCollector

Counted = dict[tuple[str, bool], int]
NAME = "payments_sellers"
HELP = "Sellers by KYC status (unverified, pending, verified, rejected) and suspension"


class SellerMetrics(ScrapedCollector[Counted]):
    logger = logging.getLogger("payments.kyc")
    unavailable = "seller metrics unavailable"

    def families(self, found: Counted) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(NAME, HELP, labels=["kyc", "suspended"])
        for (kyc, suspended), number in sorted(found.items()):
            gauge.add_metric([kyc, str(suspended).lower()], number)
        yield gauge
