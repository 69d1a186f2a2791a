"""Disputes raised at the real sandbox and recorded through its webhooks, then the day's
settlement file (#15).

The sandbox's Chargeback, dispute Fee, ChargebackReversed and SecondChargeback lines match the
disputes we recorded (opened, won, reopened) and are booked once; `psp_receivable` returns to
zero and the PSP's balance equals ours. Skipped until domain/dispute.py is on this branch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from payments.domain.ids import dispute_uuid
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.waiting import wait_until


def recorded(stack: Stack, dispute_id: str, *names: str) -> Callable[[], bool]:
    def done() -> bool:
        try:
            events = stack.services.application.events.get(dispute_uuid(dispute_id))
        except Exception:  # not recorded yet
            return False
        return [type(e).__name__ for e in events][: len(names)] == list(names)

    return done


def admin(stack: Stack, path: str, body: dict[str, str] | None = None) -> str:
    response = httpx.post(f"{stack.sandbox.url}/admin/disputes{path}", json=body)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def test_disputes_opened_won_and_reopened_are_matched_and_leave_nothing_receivable(
    stack: Stack,
) -> None:
    token = stack.sandbox.token("success")
    won, reopened, kept = place(stack, token, ["100.00", "60.00", "30.00"])
    stack.settle(lambda: terminal(stack, won, reopened, kept), timeout=30)
    disputes = {
        order: admin(stack, "", {"charge": str(stack.order(order).psp_reference)})
        for order in (won, reopened)
    }
    for dispute_id in disputes.values():
        wait_until(recorded(stack, dispute_id, "Opened"))
        admin(stack, f"/{dispute_id}/close", {"outcome": "won"})
        wait_until(recorded(stack, dispute_id, "Opened", "Won"))
    admin(stack, f"/{disputes[reopened]}/reopen")
    wait_until(recorded(stack, disputes[reopened], "Opened", "Won", "Reopened"))

    summary = stack.services.reconciler.fetch_and_reconcile(datetime.now(UTC).date())
    run = stack.services.reconciliations.get_run(summary["run_id"])
    booked = sorted(b.booking for chunk in run.settled for b in chunk.booked())
    assert booked == sorted(
        ["bank"] + ["capture"] * 3 + ["chargeback", "dispute_fee", "chargeback_reversal"] * 2
        + ["second_chargeback"]
    )  # fmt: skip
    assert summary["open_exceptions"] == 0, [f.as_dict() for f in run.findings.values()]

    check = stack.services.check_psp_balance()
    [usd] = [c for c in check.currencies if c.currency == "USD"]
    assert usd.unsettled_minor == 0  # psp_receivable of the settled day
    assert usd.difference_minor == 0, check.as_dict()
    assert check.balanced
