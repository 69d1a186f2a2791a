"""Loading many aggregates in one query gives exactly what the repository gives."""

from __future__ import annotations

import uuid

from payments.domain.application import OrderLine, PlaceCheckout
from payments.domain.execution import FailureCode
from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.domain.money import Money
from payments.projections.event_store import load_aggregates
from payments.runtime.services import Services


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
