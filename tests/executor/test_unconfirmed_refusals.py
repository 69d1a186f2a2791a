"""A 4xx from the PSP is final only once a look-up by reference finds nothing (DESIGN §11)."""

from __future__ import annotations

import pytest

from payments.domain.execution import (
    Declined,
    FailureCode,
    NotFoundAtPsp,
    Pending,
    Rejected,
    Retryable,
    Succeeded,
    confirm_rejection,
)
from payments.domain.payment_order import Status
from tests.executor.conftest import Stack
from tests.executor.helpers import event_names, place, terminal

REFUSAL = Rejected(FailureCode.REJECTED, "PSP refused the request (404): Not found")


@pytest.mark.parametrize(
    ("lookup", "expected"),
    [
        (NotFoundAtPsp(), Declined(FailureCode.REJECTED, REFUSAL.reason, None)),
        (Succeeded("ch_1"), Succeeded("ch_1")),
        (Pending("ch_2"), Pending("ch_2")),
        (Declined(FailureCode.CARD_DECLINED, "declined", "ch_3"),
         Declined(FailureCode.CARD_DECLINED, "declined", "ch_3")),
    ],
)  # fmt: skip
def test_a_refusal_means_what_the_look_up_finds(lookup: object, expected: object) -> None:
    assert confirm_rejection(REFUSAL, lookup) == expected  # type: ignore[arg-type]


def test_a_refusal_whose_look_up_fails_stays_open_to_retry() -> None:
    answer = confirm_rejection(REFUSAL, Retryable("timeout re-querying the PSP"))
    assert isinstance(answer, Retryable)
    assert "not yet confirmed" in answer.error


@pytest.mark.parametrize("lie", ["charged_but_404", "key_conflict_400"])
def test_a_psp_that_charges_and_answers_4xx_leaves_the_order_succeeded_with_one_charge(
    stack: Stack, lie: str
) -> None:
    with stack.sandbox.faulty(kind=lie, count=1, endpoint="charges"):
        [order_id] = place(stack, stack.sandbox.token("success"), ["4.04"])
        stack.settle(lambda: terminal(stack, order_id))
    order = stack.order(order_id)
    assert order.status is Status.SUCCESS
    assert order.psp_reference is not None
    assert stack.sandbox.charges(order_id) == 1
    assert "Failed" not in event_names(stack, order_id)


def test_a_refusal_the_psp_holds_nothing_for_is_final(stack: Stack) -> None:
    [order_id] = place(stack, "tok_never_issued_by_the_sandbox", ["3.00"])
    stack.settle(lambda: terminal(stack, order_id))
    order = stack.order(order_id)
    assert order.status is Status.FAILED
    assert order.failure_code is FailureCode.REJECTED
    assert "(422)" in order.failure_reason
    assert stack.sandbox.charges(order_id) == 0
