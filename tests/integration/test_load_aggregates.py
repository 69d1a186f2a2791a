"""Loading many aggregates in one query gives exactly what the repository gives."""

from __future__ import annotations

import uuid

from payments.domain.application import OrderLine, PlaceCheckout
from payments.domain.execution import FailureCode
from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.domain.money import Money
from payments.domain.payment_order import PaymentOrder
from payments.projections.event_store import load_aggregates, load_created
from payments.runtime.services import Services


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
