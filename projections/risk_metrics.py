"""Risk decisions on /metrics (issue #17): how many per rule and outcome, read at scrape time
from the risk feed's counts, so every API process shows them all and a restart loses none."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from payments.projections.metrics import ScrapedCollector

Decided = dict[tuple[str, str], int]


class RiskMetrics(ScrapedCollector[Decided]):
    logger = logging.getLogger("payments.risk")
    unavailable = "risk metrics unavailable"

    def families(self, found: Decided) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "payments_risk_decisions",
            "Risk decisions by rule and outcome (allow, review, decline; approved or "
            "declined_in_review by an operator); rule none: no rule held the order",
            labels=["rule", "outcome"],
        )
        for (rule, outcome), count in sorted(found.items()):
            family.add_metric([rule, outcome], count)
        yield family
