"""Risk decisions on /metrics (issue #17): how many per rule and outcome, read at scrape time
from the risk feed's counts, so every API process shows them all and a restart loses none."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from payments.projections.metrics import read_at_scrape, registered_once

log = logging.getLogger("payments.risk")

Decisions = Callable[[], dict[tuple[str, str], int]]


class RiskMetrics(Collector):
    def __init__(self) -> None:
        self.decisions: Decisions | None = None

    def collect(self) -> Iterator[CounterMetricFamily]:
        decisions = read_at_scrape(self.decisions, log, "risk metrics unavailable")
        if decisions is None:
            return
        family = CounterMetricFamily(
            "payments_risk_decisions",
            "Risk decisions by rule and outcome (allow, review, decline; approved or "
            "declined_in_review by an operator); rule none: no rule held the order",
            labels=["rule", "outcome"],
        )
        for (rule, outcome), count in sorted(decisions.items()):
            family.add_metric([rule, outcome], count)
        yield family


def expose_risk_metrics(decisions: Decisions) -> None:
    """Register the collector once per process; a later call replaces its data source."""
    registered_once(RiskMetrics).decisions = decisions
