"""Loading many aggregates in one query gives exactly what the repository gives."""

from __future__ import annotations

import uuid

import psycopg
from psycopg import sql

from payments.domain.application import OrderLine, PlaceCheckout
from payments.domain.execution import FailureCode
from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.domain.money import Money
from payments.domain.payment_order import PaymentOrder
from payments.domain.reconciliation_run import ReconciliationRun
from payments.projections.event_store import (
    TOPIC_INDEXES,
    load_aggregates,
    load_created,
    originators_of,
)
from payments.runtime.services import Services
from tests.conftest import services_on_new_database


def test_load_created_gives_each_aggregates_first_event_only(services: Services) -> None:
    checkout_id = f"co_{uuid.uuid4().hex[:12]}"
    line = OrderLine(f"{checkout_id}_0", "s_lc", Money(250, "USD"))
    services.application.place_checkout(PlaceCheckout(checkout_id, {"a": 1}, "tok_x", {}, (line,)))
    order = services.application.get_order(line.payment_order_id)
    order.start_execution()
    order.record_success("ch_lc", source="test")
    services.application.save(order)

    created = load_created(services.application, services.pool, [order.id, uuid.uuid4()])
    assert list(created) == [order.id]  # an unknown id is simply absent
    event = created[order.id]
    assert isinstance(event, PaymentOrder.Created)
    assert (event.originator_version, event.seller_account, event.amount_minor) == (1, "s_lc", 250)
    assert load_created(services.application, services.pool, []) == {}


def test_batch_load_equals_repository_get(services: Services) -> None:
    checkout_id = f"co_{uuid.uuid4().hex[:12]}"
    lines = tuple(OrderLine(f"{checkout_id}_{i}", f"s{i}", Money(100 + i, "USD")) for i in range(3))
    services.application.place_checkout(PlaceCheckout(checkout_id, {"a": 1}, "tok_x", {}, lines))
    first, second, _ = (services.application.get_order(line.payment_order_id) for line in lines)
    first.start_execution()
    first.record_success("ch_1", source="test")
    second.start_execution()
    second.record_failure(FailureCode.CARD_DECLINED, "no", "ch_2", source="test")
    services.application.save(first, second)

    ids = [
        checkout_uuid(checkout_id),
        *(payment_order_uuid(line.payment_order_id) for line in lines),
    ]
    loaded = load_aggregates(services.application, services.pool, [*ids, uuid.uuid4()])
    assert set(loaded) == set(ids)  # an unknown id is simply absent
    for aggregate_id in ids:
        expected = services.application.repository.get(aggregate_id)
        assert loaded[aggregate_id].__dict__ == expected.__dict__
    assert load_aggregates(services.application, services.pool, []) == {}


def test_the_runs_are_read_through_their_topic_s_own_index(admin_database_url: str) -> None:
    """load_runs' read of every run's creation (the exceptions, the daily summary, the
    console's overview) does not scan the whole log: a partial index, made at start, that
    the statement can use."""
    topic = str(ReconciliationRun.Created.TOPIC)
    with services_on_new_database(admin_database_url) as built:
        runs = [uuid.uuid4() for _ in range(3)]
        with psycopg.connect(built.database_url, autocommit=True) as conn:
            for run in runs:
                conn.execute(
                    "INSERT INTO payments_events (originator_id, originator_version, topic, "
                    "state) SELECT gen_random_uuid(), 1, 'payments.Other.v1', '\\x00' "
                    "FROM generate_series(1, 50)"
                )
                conn.execute(
                    "INSERT INTO payments_events (originator_id, originator_version, topic, "
                    "state) VALUES (%s, 1, %s, '\\x00')",
                    (run, topic),
                )
            head = int(built.application.recorder.max_notification_id() or 0)
            assert originators_of(built.application, topic, head) == runs  # in log order
            before_last = head - 51
            assert originators_of(built.application, topic, before_last) == runs[:2]
            conn.execute("SET enable_seqscan = off")
            plan = "\n".join(
                row[0]
                for row in conn.execute(
                    sql.SQL(
                        "EXPLAIN SELECT originator_id FROM payments_events WHERE topic = {} "
                        "AND notification_id <= %s ORDER BY notification_id"
                    ).format(sql.Literal(topic)),
                    (head,),
                )
            )
        assert {"payments_events_reconciliation_runs": topic} == TOPIC_INDEXES
        assert "payments_events_reconciliation_runs" in plan, plan
