"""What the execution feed remembers of open checkouts (projections/followers/open_checkouts)."""

from __future__ import annotations

from uuid import UUID, uuid4

from payments.domain.payment_order import Status
from payments.projections.followers.open_checkouts import OpenCheckouts

S, F = Status.SUCCESS, Status.FAILED


def _checkout(memory: OpenCheckouts, checkout_id: str, orders: int) -> list[UUID]:
    """A checkout's Created event, then its orders' (answers the orders' uuids)."""
    ids = [f"{checkout_id}_{n}" for n in range(orders)]
    memory.checkout_created(checkout_id, ids)
    uuids = [uuid4() for _ in ids]
    for order_uuid, order_id in zip(uuids, ids, strict=True):
        memory.order_created(order_uuid, checkout_id, order_id)
    return uuids


def test_a_checkout_completes_when_its_last_order_ends_with_its_statuses_in_order() -> None:
    memory = OpenCheckouts()
    a, b, c = _checkout(memory, "co_1", 3)
    assert memory.ended({c: S}) == ({}, set())
    assert memory.ended({a: F}) == ({}, set())
    assert memory.ended({b: S}) == ({"co_1": [F, S, S]}, set())
    assert len(memory) == 0
    assert memory.ended({b: S}) == ({}, {b})  # a retried batch: loaded, never guessed


def test_orders_of_several_checkouts_in_one_batch_and_orders_not_known() -> None:
    memory = OpenCheckouts()
    (a,) = _checkout(memory, "co_1", 1)
    b, c = _checkout(memory, "co_2", 2)
    stranger = uuid4()
    memory.order_created(stranger, "co_unseen", "co_unseen_0")  # its checkout came before
    complete, unknown = memory.ended({a: F, b: S, stranger: S})
    assert complete == {"co_1": [F]}
    assert unknown == {stranger}
    assert memory.ended({c: F}) == ({"co_2": [S, F]}, set())


def test_a_full_memory_forgets_everything_rather_than_guess() -> None:
    memory = OpenCheckouts(kept=2)
    (first,) = _checkout(memory, "co_1", 1)
    (second,) = _checkout(memory, "co_2", 1)
    (third,) = _checkout(memory, "co_3", 1)  # the first two are forgotten: loaded when they end
    assert len(memory) == 1
    assert memory.ended({first: S, second: S, third: S}) == ({"co_3": [S]}, {first, second})
