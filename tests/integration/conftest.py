from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from payments.projections.service import ProjectionService
from payments.runtime.config import Settings
from payments.runtime.services import Services, build_services
from tests.conftest import NO_RATE_LIMITS, api_client


@pytest.fixture(scope="session")
def services(database_url: str) -> Iterator[Services]:
    settings = Settings.from_env(
        {
            "PAYMENTS_DATABASE_URL": database_url,
            "PAYMENTS_WEBHOOK_SECRET": "whsec_integration_tests_only",  # as serve always has one
            **NO_RATE_LIMITS,
        }
    )
    built = build_services(settings, database_url)
    # GET /payments/{id} and /checkouts/{id} read the projections: keep them running.
    views = ProjectionService(built.application, built.pool, database_url, idle_wait=0.2)
    views.start()
    try:
        yield built
    finally:
        views.stop()
        built.close()


@pytest.fixture(scope="session")
def client(services: Services) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with api_client(services) as test_client:
        yield test_client
