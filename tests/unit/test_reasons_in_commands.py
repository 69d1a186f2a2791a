"""Every operator command that takes a reason refuses a blank one or one holding a control
character in the domain itself (domain/reasons.py), so the command line, which calls the
domain without the API's schema, keeps the same rule; nothing is recorded."""

from __future__ import annotations

import pytest

from payments.domain.errors import InvalidCommand
from tests.projections.events import new_order
from tests.unit.test_seller import registered

BAD = ["", "   ", "\u00a0", "fraud\nring", "\x1b[2J"]


@pytest.mark.parametrize("reason", BAD)
def test_a_seller_is_not_suspended_nor_reinstated_for_a_bad_reason(reason: str) -> None:
    sellers = registered()
    with pytest.raises(InvalidCommand) as refused:
        sellers.suspend("s1", reason, "op1")
    assert [e.field for e in refused.value.errors] == ["reason"]
    assert sellers.get("s1").suspended is False
    sellers.suspend("s1", "fraud ring", "op1")
    with pytest.raises(InvalidCommand):
        sellers.reinstate("s1", reason, "op1")
    assert sellers.get("s1").suspended is True


@pytest.mark.parametrize("reason", BAD)
def test_a_dead_letter_is_not_replayed_for_a_bad_reason(reason: str) -> None:
    order = new_order("po_1")
    order.start_execution()
    order.dead_letter()
    order.collect_events()  # what came before
    with pytest.raises(InvalidCommand):
        order.replay_dead_letter(reason, actor="op1")
    assert order.dead_lettered
    assert order.collect_events() == []


def test_a_good_reason_passes_everywhere() -> None:
    order = new_order("po_1")
    order.start_execution()
    order.dead_letter()
    order.replay_dead_letter("PSP back, ticket #42 \u2013 ok", actor="op1")
    assert not order.dead_lettered
