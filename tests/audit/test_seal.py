"""The sealed hash chain detects an edited, deleted or forged event and an edited seal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from psycopg_pool import ConnectionPool

from payments.domain.application import OrderLine, PlaceCheckout
from payments.domain.money import Money
from payments.projections.audit.seal import AuditKeyMissing, EventLogSeal, seal_signature
from payments.runtime.services import Services
from tests.audit.conftest import sql

KEY = "audit-test-key"


@pytest.fixture
def sealer(services: Services) -> EventLogSeal:
    return EventLogSeal(services.pool, KEY)


def place(services: Services, orders: int = 2) -> None:
    checkout_id = f"co_{uuid.uuid4().hex[:12]}"
    services.application.place_checkout(
        PlaceCheckout(
            checkout_id, {}, "tok_audit", {},
            tuple(OrderLine(f"{checkout_id}_{i}", "seller", Money(100, "USD")) for i in range(orders)),
        )
    )  # fmt: skip


def consume_a_notification_id(pool: ConnectionPool) -> int:
    """Leave a gap in the notification ids, as a rolled-back insert does."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('payments_events', 'notification_id'))"
        ).fetchone()
    assert row is not None
    return int(row[0])


def assert_broken_at(sealer: EventLogSeal, position: int, why: str | None = None) -> None:
    """The check fails at `position`, its reason saying `why` (when given)."""
    result = sealer.check()
    assert (result.ok, result.first_broken_position) == (False, position)
    if why is not None:
        assert why in str(result.reason)


def test_untouched_log_checks_clean_and_sealing_is_incremental(
    services: Services, sealer: EventLogSeal
) -> None:
    place(services)
    first = sealer.seal()
    assert first is not None
    assert (first.from_position, first.to_position, first.event_count) == (1, 3, 3)
    assert sealer.seal() is None  # idempotent: nothing new
    place(services)
    second = sealer.seal()
    assert second is not None
    assert (second.from_position, second.to_position) == (4, 6)
    result = sealer.check()
    assert (result.ok, result.seals_checked, result.events_checked) == (True, 2, 6)


def test_edited_event_state_is_detected_at_its_position(
    services: Services, sealer: EventLogSeal
) -> None:
    place(services, orders=3)
    sealer.seal()
    sql(
        services.pool,
        "UPDATE payments_events SET state = convert_to(replace(convert_from(state, 'UTF8'), "
        "'\"amount_minor\":100', '\"amount_minor\":999'), 'UTF8') WHERE notification_id = 3",
    )
    assert_broken_at(sealer, 3, "does not match")


def test_deleted_event_is_detected_at_its_position(
    services: Services, sealer: EventLogSeal
) -> None:
    place(services, orders=3)
    sealer.seal()
    sql(services.pool, "DELETE FROM payments_events WHERE notification_id = 2")
    assert_broken_at(sealer, 2, "missing")


def test_forged_event_inserted_into_sealed_history_is_detected(
    services: Services, sealer: EventLogSeal
) -> None:
    place(services)
    gap = consume_a_notification_id(services.pool)
    place(services)
    sealer.seal()
    sql(
        services.pool,
        "INSERT INTO payments_events (originator_id, originator_version, topic, state, "
        "notification_id) VALUES (%s, 1, 'payments.Checkout.Created.v1', '{}'::bytea, %s)",
        uuid.uuid4(), gap,
    )  # fmt: skip
    assert_broken_at(sealer, gap, "not in the sealed log")


def test_edited_seal_row_is_detected(services: Services, sealer: EventLogSeal) -> None:
    place(services)
    sealer.seal()
    place(services)
    sealer.seal()
    sql(services.pool, "UPDATE audit_seals SET to_position = to_position - 1 WHERE seal_id = 2")
    assert_broken_at(sealer, 4, "seal 2")


def test_chain_and_seal_rewritten_without_the_key_are_detected(
    services: Services, sealer: EventLogSeal
) -> None:
    place(services)
    sealer.seal()
    forger = EventLogSeal(services.pool, "a guessed key")
    sql(services.pool, "DELETE FROM audit_seals")
    sql(services.pool, "DELETE FROM audit_chain")
    forger.seal()
    assert_broken_at(sealer, 1)


def test_sealing_refuses_to_start_without_a_key(services: Services) -> None:
    with pytest.raises(AuditKeyMissing, match="PAYMENTS_AUDIT_KEY"):
        EventLogSeal(services.pool, None)


def test_a_seal_s_signature_is_the_instant_s_whatever_zone_it_is_read_in() -> None:
    """Sealed in UTC; read back, timestamptz comes in the session's zone (seals written
    before sessions were set to UTC must still check)."""
    sealed = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    read = sealed.astimezone(timezone(timedelta(hours=14)))
    assert seal_signature(b"k", 1, 1, 6, 6, b"h", read) == seal_signature(
        b"k", 1, 1, 6, 6, b"h", sealed
    )
