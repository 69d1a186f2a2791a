"""Fixtures for audit tests: services on a database of their own, and a small history."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from psycopg_pool import ConnectionPool

from payments.domain.application import OrderLine, PlaceCheckout
from payments.domain.ids import payment_order_uuid
from payments.domain.money import Money
from payments.domain.payment_order import PaymentOrder
from payments.runtime.services import Services
from tests.conftest import services_on


@pytest.fixture
def services(fresh_database_url: str) -> Iterator[Services]:
    with services_on(fresh_database_url) as built:
        yield built


def sql(pool: ConnectionPool, statement: str, *params: object) -> None:
    """Write behind the system's back, as a tamperer would."""
    with pool.connection() as conn, conn.transaction():
        conn.execute(statement, params)  # type: ignore[arg-type]


def instant() -> datetime:
    """Now, strictly between the events recorded before and after this call."""
    time.sleep(0.002)
    now = datetime.now(UTC)
    time.sleep(0.002)
    return now


def place(services: Services, seller: str, *amounts: int) -> list[str]:
    checkout_id = f"co_{uuid.uuid4().hex[:12]}"
    ids = [f"{checkout_id}_{i}" for i in range(len(amounts))]
    services.application.place_checkout(
        PlaceCheckout(
            checkout_id,
            {"email": "ada@example.com"},
            "tok_secret_card_token",
            {"brand": "visa", "last4": "4242"},
            tuple(OrderLine(i, seller, Money(a, "USD")) for i, a in zip(ids, amounts, strict=True)),
        )
    )
    return ids


def start(services: Services, payment_order_id: str) -> None:
    order = services.application.repository.get(payment_order_uuid(payment_order_id))
    assert isinstance(order, PaymentOrder)
    order.start_execution()
    services.application.save(order)


def succeed(services: Services, payment_order_id: str) -> None:
    order = services.application.repository.get(payment_order_uuid(payment_order_id))
    assert isinstance(order, PaymentOrder)
    if order.status.value == "NOT_STARTED":
        order.start_execution()
    order.record_success(f"ch_{payment_order_id}", source="test")
    services.application.save(order)


@dataclass(frozen=True)
class Story:
    """Order a (2500) placed, started, succeeded; order b (750) placed, never charged."""

    order_a: str
    order_b: str
    before: datetime  # nothing yet
    placed: datetime  # both orders NOT_STARTED
    started: datetime  # a EXECUTING
    paid: datetime  # a SUCCESS, posted and credited


def tell_story(services: Services, seller: str = "seller_a") -> Story:
    before = instant()
    order_a, order_b = place(services, seller, 2500, 750)
    placed = instant()
    start(services, order_a)
    started = instant()
    succeed(services, order_a)
    paid = instant()
    return Story(order_a, order_b, before, placed, started, paid)
