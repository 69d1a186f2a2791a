"""Fixtures for personal-data tests: the real app and services on a database of their own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from payments.cli.main import main
from payments.runtime.services import Services
from tests.conftest import api_client, services_on_new_database

AUDIT_KEY = "privacy-tests-audit-key-0123456789abcdef"


@pytest.fixture(scope="module")
def services(admin_database_url: str) -> Iterator[Services]:
    with services_on_new_database(admin_database_url) as built:
        yield built


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with api_client(services) as test_client:
        yield test_client


def cli(services: Services, *args: str) -> tuple[int, str]:
    """Run `payments ...` against the test database, as an operator would."""
    env = {"PAYMENTS_DATABASE_URL": services.database_url, "PAYMENTS_AUDIT_KEY": AUDIT_KEY}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def checkout_body(buyer_info: dict[str, Any], n_orders: int = 1) -> dict[str, Any]:
    checkout_id = f"co_{uuid.uuid4().hex[:16]}"
    return {
        "buyer_info": buyer_info,
        "checkout_id": checkout_id,
        "credit_card_info": {"token": "tok_visa_privacy", "brand": "visa", "last4": "4242"},
        "payment_orders": [
            {
                "seller_account": "seller_privacy",
                "amount": "12.50",
                "currency": "USD",
                "payment_order_id": f"{checkout_id}_po{i}",
            }
            for i in range(n_orders)
        ],
    }


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def count(services: Services, table: str) -> int:
    with services.pool.connection() as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])
