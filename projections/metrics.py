"""Per-projection position and lag for /metrics, read from the database at scrape time.

Computed on scrape (not pushed by the runner) so any API process shows every projection,
wherever its runner runs. Such collectors belong to the app that reads them (its services),
never to the process: a process that made another app (a test session makes hundreds) would
otherwise scrape the first one's closed event store, whose retries take seconds.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Generic, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from payments.projections.status import ProjectionState

log = logging.getLogger("payments.projections")

StatesReader = Callable[[], list[ProjectionState]]
Found = TypeVar("Found")


class _ProcessMetrics(Collector):
    """This process's own metrics (its requests, its runtime): the default registry's."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposed_registry(derived: Iterable[Collector]) -> CollectorRegistry:
    """What /metrics shows: this process's own metrics, or with API processes sharing the
    port (PROMETHEUS_MULTIPROC_DIR set, ADR 0020) every process's summed from their files;
    and `derived`, the app's metrics computed from the database at each scrape (any process
    answers them alike, unlike a counter of the process's own requests)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessMetrics())
    for collector in derived:
        registry.register(collector)
    return registry


def read_at_scrape(
    read: Callable[[], Found] | None, logger: logging.Logger, unavailable: str
) -> Found | None:
    """What `read` finds for this scrape, or None when no source is set or (logged as
    `unavailable`) when it fails: the database is away, this scrape goes without."""
    if read is None:
        return None
    try:
        return read()
    except Exception as error:
        logger.warning(unavailable, extra={"error": str(error)})
        return None


class ScrapedCollector(ABC, Generic[Found]):
    """Metrics read from one source at scrape time, so that every API process shows them all
    and a restart loses none; a scrape goes without them when the source fails."""

    logger: logging.Logger
    unavailable: str  # what the log says when the source fails

    def __init__(
        self,
        source: Callable[[], Found],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source = source
        self.clock = clock  # for a family that tells how long ago, or how long until

    def collect(self) -> Iterator[Metric]:
        found = read_at_scrape(self.source, self.logger, self.unavailable)
        if found is not None:
            yield from self.families(found)

    @abstractmethod
    def families(self, found: Found) -> Iterator[Metric]:
        """The metric families of what the source found."""


# The gauges of each projection: name, help text, and the value of a projection's state.
_PER_PROJECTION: tuple[tuple[str, str, Callable[[ProjectionState], float]], ...] = (
    (
        "payments_projection_position",
        "Last notification id applied by the projection",
        lambda state: state.position,
    ),
    (
        "payments_projection_lag_events",
        "Events recorded but not yet applied by the projection",
        lambda state: state.lag_events,
    ),
    (
        "payments_projection_lag_seconds",
        "Age of the oldest event not yet applied (0 when caught up)",
        lambda state: state.lag_seconds,
    ),
    (
        "payments_projection_poisoned",
        "1 when the projection stopped at an event it cannot apply",
        lambda state: float(state.state == "poisoned"),
    ),
    (
        "payments_projection_running",
        "1 when a runner holds the projection's lock",
        lambda state: float(state.state == "running"),
    ),
)


class ProjectionMetrics(Collector):
    def __init__(
        self, read_states: StatesReader, count_discrepancies: Callable[[], int] | None = None
    ) -> None:
        self.read_states = read_states
        self.count_discrepancies = count_discrepancies

    def collect(self) -> Iterator[GaugeMetricFamily]:
        discrepancies = read_at_scrape(
            self.count_discrepancies, log, "discrepancy metric unavailable"
        )
        if discrepancies is not None:
            gauge = GaugeMetricFamily(
                "payments_orders_with_discrepancies",
                "Payment orders whose recorded outcome the PSP contradicted (see "
                "GET /discrepancies)",
            )
            gauge.add_metric([], discrepancies)
            yield gauge
        states = read_at_scrape(self.read_states, log, "projection metrics unavailable")
        if states is None:
            return
        for name, text, value in _PER_PROJECTION:
            family = GaugeMetricFamily(name, text, labels=["projection"])
            for state in states:
                family.add_metric([state.name], value(state))
            yield family
