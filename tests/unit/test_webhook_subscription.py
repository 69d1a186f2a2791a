"""Which events a webhook subscription wants, by position (projections/followers/
notification_feed.Subscription): its types at each position, and the stretches it was
disabled; applying an endpoint's event again changes nothing (ADR 0027)."""

from __future__ import annotations

from payments.projections.followers.notification_feed import Subscription


def test_a_subscription_hears_by_the_types_it_had_at_each_position() -> None:
    succeeded, failed, paid = "payment_order.succeeded", "payment_order.failed", "payout.paid"
    made = Subscription("we_1", frozenset({succeeded}), 10, None)
    changed = made.types_changed(20, frozenset({failed}))
    assert [changed.wants(succeeded, p) for p in (5, 15, 25)] == [False, True, False]
    assert [changed.wants(failed, p) for p in (5, 15, 25)] == [False, False, True]
    assert changed.types_changed(20, frozenset({failed})) is changed, "applied again: no change"
    again = changed.types_changed(30, frozenset({paid}))
    assert [again.types_at(p) for p in (15, 25, 35)] == [{succeeded}, {failed}, {paid}]
    assert again.types_changed(20, frozenset({failed})) is again, "an earlier change, again"
    assert not again.disabled_at(40).wants(paid, 45)
    assert again.earlier_types_json().obj == [[20, [succeeded]], [30, [failed]]]


def test_a_subscription_hears_nothing_while_disabled_and_again_after_an_enabling() -> None:
    paid = "payout.paid"
    made = Subscription("we_1", frozenset({paid}), 10, None)
    off = made.disabled_at(20)
    on = off.enabled_again_at(30)
    assert [on.wants(paid, p) for p in (15, 20, 25, 30, 35)] == [True, False, False, True, True]
    assert on.disabled_at(20) is on, "a disabling before the enabling, applied again"
    assert on.enabled_again_at(30) is on, "the enabling applied again"
    twice = on.disabled_at(40).enabled_again_at(50)
    assert [twice.wants(paid, p) for p in (25, 35, 45, 55)] == [False, True, False, True]
    assert twice.earlier_disabled_json().obj == [[20, 30], [40, 50]]
    assert made.enabled_again_at(15) is made, "not disabled: nothing to enable"
