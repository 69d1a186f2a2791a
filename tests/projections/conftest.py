"""Fixtures for projection tests: databases of their own, scratch schemas, runners."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from payments.projections.catalog import NAMES, live_view
from payments.projections.runner import ProjectionRunner, catch_up_together
from payments.projections.source import ApplicationEventSource
from payments.runtime.config import Settings
from payments.runtime.services import Services, build_services
from tests.conftest import services_on_new_database


def services_for(url: str) -> Services:
    return build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url)


@pytest.fixture
def isolated(admin_database_url: str) -> Iterator[Services]:
    """Services on a database of this test's own: an empty event store and empty views."""
    with services_on_new_database(admin_database_url) as built:
        yield built


@pytest.fixture(scope="module")
def module_services(admin_database_url: str) -> Iterator[Services]:
    """Services on a database shared by one test module."""
    with services_on_new_database(admin_database_url) as built:
        yield built


@pytest.fixture(scope="session")
def scratch_pool(database_url: str) -> Iterator[ConnectionPool]:
    """A pool on the session database, for views built in scratch schemas. Of a fixed size,
    every connection made before it is used: a pool that grows makes connections in a thread
    of its own, and psycopg_pool draws their lifetimes' jitter from the `random` module, which
    Hypothesis, drawing an example meanwhile, takes for a strategy using `random` (a warning,
    once in a CI run)."""
    pool: ConnectionPool = ConnectionPool(database_url, min_size=4, max_size=4, open=False)
    pool.open(wait=True)
    try:
        yield pool
    finally:
        pool.close()


def catch_up_all(services: Services, batch_size: int = 500) -> None:
    """Bring every live view to the head of the log, in this thread, reading it once."""
    source = ApplicationEventSource(services.application)
    catch_up_together(
        [
            ProjectionRunner(live_view(services.pool, n), source, batch_size=batch_size)
            for n in NAMES
        ]
    )
