"""An executor process killed (SIGKILL) while its payouts are at the PSP: after a restart every
payout is paid, none is sent twice, none is lost, and each wallet holds what it should."""

from __future__ import annotations

from pathlib import Path

from payments.domain.payout import PayoutStatus
from tests.executor.conftest import Stack
from tests.executor.helpers import kill_worker_when, restart_worker_until
from tests.payouts.helpers import credit, payout, payouts_at_psp, post_payout, seller, view_shows


def payout_event_names(stack: Stack, payout_id: str) -> list[str]:
    events = stack.services.application.events.get(payout(stack, payout_id).id)
    return [type(e).__name__ for e in events]


def settled_wallet(stack: Stack, account: str) -> tuple[int, int, dict[str, int]] | None:
    wallet = stack.services.application.find_wallet(account)
    if wallet is None:
        return None
    return wallet.available_minor, wallet.paid_out_minor, dict(wallet.reserved)


def test_executor_killed_mid_payouts_pays_each_once_and_loses_none(
    stack: Stack, tmp_path: Path
) -> None:
    accounts = [seller("crash") for _ in range(3)]
    for account in accounts:
        credit(stack, account, ["20"])
    # Every payout call at the PSP is slow: the worker dies while they are in flight.
    stack.sandbox.fault(kind="latency", latency_ms=1500, count=100, endpoint="payouts")
    payout_ids = [post_payout(stack, account, "12.34").json()["payout_id"] for account in accounts]
    kill_worker_when(  # SIGKILL while the payout calls are in flight
        stack,
        tmp_path / "worker1.log",
        lambda: all("ExecutionStarted" in payout_event_names(stack, p) for p in payout_ids),
    )
    assert all(payout(stack, p).status is PayoutStatus.EXECUTING for p in payout_ids)

    restart_worker_until(
        stack,
        tmp_path / "worker2.log",
        lambda: all(payout(stack, p).is_terminal for p in payout_ids),
        # The worker's wallet follower settles each reservation (20.00 - 12.34 left, none
        # held), apart from the view, which follows the payouts' own events.
        lambda: all(settled_wallet(stack, a) == (766, 1234, {}) for a in accounts),
        lambda: all(view_shows(stack, a, available=766, in_transit=0) for a in accounts),
    )
    for payout_id in payout_ids:
        assert payout(stack, payout_id).status is PayoutStatus.PAID
        assert payouts_at_psp(stack, payout_id) == 1
        assert payout_event_names(stack, payout_id).count("Paid") == 1
