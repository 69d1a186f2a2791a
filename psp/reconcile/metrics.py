"""Reconciliation on /metrics: how many days are not reconciled, and the difference the last
PSP balance check found per currency (psp/reconcile/balance.py), read at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("payments.reconcile")


class ReconciliationMetrics(Collector):
    def __init__(
        self,
        days_behind: Callable[[], int],
        balance_differences: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        self.days_behind = days_behind
        self.balance_differences = balance_differences

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            behind = self.days_behind()
            differences = self.balance_differences() if self.balance_differences else {}
        except Exception as error:
            log.warning("reconciliation metrics unavailable", extra={"error": str(error)})
            return
        yield GaugeMetricFamily(
            "payments_reconciliation_days_behind",
            "Days up to yesterday whose settlement file is not reconciled yet",
            value=behind,
        )
        gauge = GaugeMetricFamily(
            "payments_psp_balance_difference_minor",
            "The PSP's available balance minus ours, in minor units, at the last balance check",
            labels=["currency"],
        )
        for currency, difference in sorted(differences.items()):
            gauge.add_metric([currency], difference)
        yield gauge
