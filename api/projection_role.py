"""The projections' state for /metrics and the CLI (`payments serve` runs them as a child)."""

from __future__ import annotations

from payments.projections.catalog import tracking_tables
from payments.projections.source import ApplicationEventSource
from payments.projections.status import ProjectionState, read_states
from payments.runtime.services import Services


def projection_states(services: Services) -> list[ProjectionState]:
    source = ApplicationEventSource(services.application)
    return read_states(services.pool, source, tracking_tables())
