"""The order status view's contract, run against the in-memory and PostgreSQL views."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from payments.domain.execution import FailureCode
from payments.domain.payment_order import PaymentOrder
from payments.projections.core import TrackedEvent, TrackingConflict, UnapplicableEvent
from payments.projections.views.order_status import InMemoryOrderStatusView, OrderFilter, OrderKey
from payments.projections.views.order_status_pg import PostgresOrderStatusView
from tests.projections.contract import IMPLEMENTATIONS, feed, make_view
from tests.projections.events import Log, fail, new_checkout, new_order, retry, succeed


@pytest.fixture(params=IMPLEMENTATIONS)
def view(request: pytest.FixtureRequest, scratch_pool: ConnectionPool) -> Iterator[Any]:
    with make_view(
        request.param, scratch_pool, InMemoryOrderStatusView, PostgresOrderStatusView
    ) as built:
        yield built


def test_a_new_order_is_not_started_with_its_terms(view: Any) -> None:
    log = Log()
    order = new_order("po_1", seller="acme", amount=1050, checkout="co_1")
    log.record(new_checkout("co_1", ["po_1"]), order)
    feed(view, log)
    row = view.get_order("po_1")
    assert row is not None
    assert (row.status, row.seller_account, row.amount_minor, row.checkout_id) == (
        "NOT_STARTED",
        "acme",
        1050,
        "co_1",
    )
    assert view.position() == log.head
    assert view.get_order("po_unknown") is None


def describe(order: PaymentOrder) -> dict[str, Any]:
    """What the aggregate itself says (the view must say the same)."""
    return {
        "payment_order_id": order.payment_order_id,
        "checkout_id": order.checkout_id,
        "seller_account": order.seller_account,
        "amount_minor": order.amount_minor,
        "currency": order.currency,
        "status": order.status.value,
        "attempts": order.attempts,
        "psp_reference": order.psp_reference,
        "failure_code": order.failure_code.value if order.failure_code else None,
        "failure_reason": order.failure_reason,
        "last_error": order.last_error,
        "next_attempt_at": order.next_attempt_at,
        "pending_at_psp": order.pending_at_psp,
        "dead_lettered": order.dead_lettered,
        "discrepancies": order.discrepancies,
        "created_at": order.created_on,
        "updated_at": order.modified_on,
        "version": order.version,
    }


def test_the_row_matches_the_aggregate_after_every_kind_of_event(view: Any) -> None:
    log = Log()
    orders = [succeed(new_order("po_s")), fail(new_order("po_f")), retry(new_order("po_r"))]
    dead = retry(new_order("po_d"))
    dead.dead_letter()
    orders.append(dead)
    replayed = retry(new_order("po_x"))
    replayed.dead_letter()
    replayed.replay_dead_letter("operator", actor="test")
    replayed.start_execution()
    replayed.mark_pending("ch_x")
    replayed.record_success("ch_x", source="webhook")
    replayed.record_failure(*fail_args())
    orders.append(replayed)
    log.record(*orders)
    feed(view, log)
    for order in orders:
        row = view.get_order(order.payment_order_id)
        expected = describe(order)
        assert {key: getattr(row, key) for key in expected} == expected
    assert view.get_order("po_x").discrepancies == 1


def fail_args() -> tuple[Any, ...]:

    return (FailureCode.CARD_DECLINED, "late", "ch_x", "webhook")


def applied_new_order(view: Any, payment_order_id: str) -> tuple[Log, PaymentOrder]:
    """A log holding one new order, which the view has applied."""
    log = Log()
    order = new_order(payment_order_id)
    log.record(order)
    feed(view, log)
    return log, order


def test_events_across_batches_fold_onto_the_stored_row(view: Any) -> None:
    log, order = applied_new_order(view, "po_1")
    order.start_execution()
    log.record(order)
    feed(view, log)
    order.record_success("ch_1", source="psp")
    log.record(order)
    feed(view, log)
    row = view.get_order("po_1")
    assert (row.status, row.attempts, row.psp_reference) == ("SUCCESS", 1, "ch_1")


def test_a_hold_for_review_is_on_the_row_until_an_operator_decides(view: Any) -> None:
    log = Log()
    approved, declined, allowed = new_order("po_a"), new_order("po_d"), new_order("po_ok")
    for order in (approved, declined):
        order.assess_risk("review", "large_order", {"amount": 60000}, "order amount above")
    allowed.assess_risk("allow", None, {}, "")
    log.record(approved, declined, allowed)
    feed(view, log)
    assert [view.get_order(i).risk_review for i in ("po_a", "po_d", "po_ok")] == [
        "large_order",
        "large_order",
        None,
    ]
    approved.review_risk(True, "known buyer", "key_1")
    declined.review_risk(False, "stolen card", "key_1")
    log.record(approved, declined)
    feed(view, log)  # a batch of its own: the hold is read back from the stored row
    assert (view.get_order("po_a").risk_review, view.get_order("po_a").status) == (
        None,
        "NOT_STARTED",
    )
    assert (view.get_order("po_d").risk_review, view.get_order("po_d").status) == (
        None,
        "FAILED",
    )


def test_a_checkout_lists_its_orders_in_its_own_order(view: Any) -> None:
    log = Log()
    ids = ["po_b", "po_a", "po_c"]
    log.record(new_checkout("co_1", ids), *(new_order(i, checkout="co_1") for i in ids))
    feed(view, log)
    checkout = view.get_checkout("co_1")
    assert checkout.payment_order_ids == tuple(ids)
    assert checkout.is_payment_done is False
    assert [o.payment_order_id for o in view.get_orders(checkout.payment_order_ids)] == ids
    assert view.get_checkout("co_unknown") is None


def test_position_moves_to_through_even_without_events(view: Any) -> None:
    view.apply_batch([], after=0, through=7)
    assert view.position() == 7


def test_a_batch_from_the_wrong_position_changes_nothing(view: Any) -> None:
    log = Log()
    log.record(new_order("po_1"), new_order("po_2"))
    with pytest.raises(TrackingConflict):
        view.apply_batch(log.events[1:], after=1, through=log.head)
    assert view.position() == 0
    assert view.get_order("po_2") is None


def test_a_batch_with_an_unapplicable_event_changes_nothing(view: Any) -> None:
    log = Log()
    good = log.record(new_order("po_ok"))
    stray = new_order("po_stray")
    stray.collect_events()  # its Created is never seen
    stray.start_execution()
    bad = log.record(stray)
    with pytest.raises(UnapplicableEvent):
        view.apply_batch([*good, *bad], after=0, through=log.head)
    assert view.position() == 0
    assert view.get_order("po_ok") is None


def test_a_version_gap_is_refused(view: Any) -> None:
    log, order = applied_new_order(view, "po_1")
    order.start_execution()
    order.record_success("ch", source="test")
    events = log.record(order)
    with pytest.raises(UnapplicableEvent):
        view.apply_batch([events[1]], after=view.position(), through=log.head)


def test_listing_filters_and_pages_newest_first(view: Any) -> None:
    log = Log()
    orders = [
        new_order(f"po_{i:02d}", seller=f"s{i % 3}", checkout=f"co_{i % 2}") for i in range(12)
    ]
    for i, order in enumerate(orders):
        if i % 4 == 0:
            succeed(order)
    log.record(*orders)
    feed(view, log)
    everything = view.list_orders(OrderFilter(), limit=200)
    assert len(everything.items) == 12
    assert everything.next_key is None
    keys = [(o.created_at, o.payment_order_id) for o in everything.items]
    assert keys == sorted(keys, reverse=True)

    seen: list[str] = []
    after: OrderKey | None = None
    while True:
        page = view.list_orders(OrderFilter(), limit=5, after=after)
        seen += [o.payment_order_id for o in page.items]
        if page.next_key is None:
            break
        after = page.next_key
    assert seen == [o.payment_order_id for o in everything.items]

    assert {
        o.payment_order_id for o in view.list_orders(OrderFilter(status="SUCCESS"), limit=50).items
    } == {
        "po_00",
        "po_04",
        "po_08",
    }
    by_seller = view.list_orders(OrderFilter(seller_account="s1"), limit=50).items
    assert {o.seller_account for o in by_seller} == {"s1"}
    assert len(by_seller) == 4
    assert len(view.list_orders(OrderFilter(checkout_id="co_1"), limit=50).items) == 6
    middle = everything.items[5].created_at
    newer = view.list_orders(OrderFilter(created_from=middle), limit=50).items
    older = view.list_orders(OrderFilter(created_to=middle), limit=50).items
    assert len(newer) + len(older) == 12
    assert all(o.created_at >= middle for o in newer)
    future = datetime.now(UTC) + timedelta(days=1)
    assert view.list_orders(OrderFilter(created_from=future), limit=50).items == []


def test_events_of_other_aggregates_are_ignored(view: Any) -> None:
    class Other:
        originator_id = "x"
        originator_version = 1

    view.apply_batch([TrackedEvent(1, "payments.Payout.Created.v1", Other())], after=0, through=1)
    assert view.position() == 1
