"""Projections as a role of `payments serve`, and their state for /metrics and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.services import Services
from projections.catalog import NAMES, tracking_tables
from projections.service import ProjectionService
from projections.source import ApplicationEventSource
from projections.status import ProjectionState, read_states

if TYPE_CHECKING:
    from api.serve import Role


def projection_states(services: Services) -> list[ProjectionState]:
    source = ApplicationEventSource(services.application)
    return read_states(services.pool, source, tracking_tables())


def projections_role(services: Services) -> Role:
    """Every projection in threads of this process; each waits if another process runs it."""
    from api.serve import Role  # api.serve imports the app, which imports this module

    service = ProjectionService(
        services.application, services.pool, services.database_url, NAMES, wait_for_lock=True
    )
    return Role(name="projections", start=service.start, stop=service.stop)
