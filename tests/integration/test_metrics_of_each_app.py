"""/metrics reads the figures it derives from the database (projection lag, sellers, risk,
reconciliation) from its own app's services: an app made later in the same process, on
other services since closed, changes nothing in what an earlier app answers."""

from __future__ import annotations

from litestar.testing import TestClient

from payments.api.app import create_app
from tests.conftest import bearer, services_on_new_database


def test_an_app_scrapes_its_own_services_after_another_app_was_made_and_closed(
    admin_database_url: str,
) -> None:
    with services_on_new_database(admin_database_url) as first:
        app = create_app(first)
        with services_on_new_database(admin_database_url) as second:
            create_app(second)  # another app of the process, as a test session makes many
        with TestClient(app=app, raise_server_exceptions=False) as client:
            client.headers.update(bearer(first, "operator"))
            answer = client.get("/metrics")
    assert answer.status_code == 200
    assert 'payments_projection_position{projection="order_status"}' in answer.text
    assert "payments_reconciliation_days_behind" in answer.text
