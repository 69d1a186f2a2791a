"""Timing is not an error (DESIGN §8): awaiting settlement, cleared by a later file, or missing
at the PSP once the window has passed. In memory: fast, and the clock is an option."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from payments.domain.application import CheckoutPolicy, PaymentsApplication
from payments.domain.payout import Payout
from payments.domain.reconciliation_commands import ReconciliationCommands
from payments.domain.reconciliation_run import INFO, ReconciliationRun
from payments.psp.reconcile.engine import ReconcileOptions, reconcile_file
from payments.psp.settlement import SettlementLine
from tests.projections.events import new_checkout, new_order, succeed
from tests.reconciliation.records import captured, closed_by_payout, written

AMOUNTS = {"A": 1000, "B": 2000, "C": 3000, "E": 5000}


def an_application() -> PaymentsApplication:
    app = PaymentsApplication(CheckoutPolicy("USD", 10**9))
    orders = [succeed(new_order(name, "s1", amount)) for name, amount in AMOUNTS.items()]
    app.save(new_checkout("co", list(AMOUNTS)), *orders)
    return app


def settlement_file(tmp_path: Path, day: date, names: list[str]) -> Path:
    moment = datetime(day.year, day.month, day.day, 12, 0, 0)
    batch = int(day.strftime("%Y%m%d"))
    lines = [captured(name, AMOUNTS[name], moment, batch) for name in names]
    return written(
        tmp_path / f"{day}-{'-'.join(names)}.csv", closed_by_payout(lines, moment, batch)
    )


def kinds(run: ReconciliationRun) -> dict[str, tuple[str, str | None, str]]:
    return {
        f.finding_id: (f.kind, f.payment_order_id, run.state_of(f.finding_id))
        for f in run.findings.values()
    }


def test_awaiting_is_cleared_by_a_later_file_or_escalated_after_the_window(
    tmp_path: Path,
) -> None:
    app = an_application()
    commands = ReconciliationCommands(app)
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)

    def run(day: date, names: list[str], as_of: datetime) -> ReconciliationRun:
        path = settlement_file(tmp_path, day, names)
        return reconcile_file(commands, path, ReconcileOptions("USD", as_of=as_of)).run

    first = run(today, ["A", "B"], now)
    assert kinds(first) == {
        "order-C": ("awaiting_settlement", "C", INFO),
        "order-E": ("awaiting_settlement", "E", INFO),
    }

    second = run(today + timedelta(days=1), ["C"], now + timedelta(days=1))
    assert kinds(second) == {"line-2": ("cleared", "C", INFO)}
    assert second.findings["line-2"].supersedes == f"{first.id}/order-C"

    third = run(today + timedelta(days=4), [], now + timedelta(days=4))
    assert kinds(third) == {"order-E": ("missing_at_psp", "E", "open")}
    assert third.findings["order-E"].supersedes == f"{first.id}/order-E"

    fourth = run(today + timedelta(days=5), [], now + timedelta(days=5))
    assert kinds(fourth) == {}  # E was escalated once; C was cleared; A and B matched


def test_an_order_that_succeeded_outside_the_files_period_is_noted_so_no_later_run_expects_it(
    tmp_path: Path,
) -> None:
    app = an_application()
    commands = ReconciliationCommands(app)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    path = settlement_file(tmp_path, yesterday, ["A", "B", "C", "E"])
    run = reconcile_file(commands, path, ReconcileOptions("USD")).run
    assert {f.kind for f in run.findings.values()} == {"settled_outside_period"}
    today_file = settlement_file(tmp_path, datetime.now(UTC).date(), [])
    later = reconcile_file(commands, today_file, ReconcileOptions("USD")).run
    assert later.findings == {}


def test_payout_lines_are_checked_against_our_payouts_and_never_fixed(tmp_path: Path) -> None:
    app = an_application()
    commands = ReconciliationCommands(app)
    payouts = {}
    for name, outcome in (
        ("P", "paid"),
        ("F", "failed"),
        ("X", None),
        ("R", "paid"),
        ("Q", "paid"),
    ):
        payout = Payout(f"po_{name}", "s1", 700, "USD", "s1", None, "test")
        payout.start_execution()
        if outcome == "paid":
            payout.record_paid(f"psp_{name}", source="test")
        elif outcome == "failed":
            payout.record_failure("closed account", f"psp_{name}", source="test")
        payouts[name] = payout
    app.save(*payouts.values())
    today = datetime.now(UTC).date()
    moment = datetime(today.year, today.month, today.day, 12, 0, 0)

    def transfer(name: str, debit: int = 700, credit: int = 0) -> SettlementLine:
        return SettlementLine(
            psp_reference=f"psp_{name}",
            merchant_reference=f"po_{name}",
            type="Balancetransfer",
            creation_date=moment,
            currency="USD",
            gross_debit_minor=debit,
            net_debit_minor=debit,
            gross_credit_minor=credit,
            net_credit_minor=credit,
            batch_number=1,
        )

    lines = [transfer(n) for n in "PFXR"] + [transfer("R", debit=0, credit=700)]
    path = written(tmp_path / "payouts.csv", closed_by_payout(lines, moment, 1))
    now = datetime.now(UTC)
    run = reconcile_file(commands, path, ReconcileOptions("USD", as_of=now)).run
    found = {
        f.finding_id: (f.kind, f.payout_id, run.state_of(f.finding_id), f.our_status)
        for f in run.findings.values()
        if f.payment_order_id is None
    }
    assert found == {
        "line-3": ("status_mismatch", "po_F", "open", "FAILED"),
        "line-4": ("status_mismatch", "po_X", "open", "EXECUTING"),
        "line-6": ("status_mismatch", "po_R", "open", "PAID"),  # the PSP returned it
        "payout-po_Q": ("awaiting_settlement", "po_Q", INFO, "PAID"),
    }
    assert run.pending_auto_fixes() == []
    assert sum(chunk.matched for chunk in run.chunks) == 2  # P and R's paid-out line

    later = settlement_file(tmp_path, today + timedelta(days=4), [])
    escalated = reconcile_file(
        commands, later, ReconcileOptions("USD", as_of=now + timedelta(days=4))
    ).run
    [finding] = [f for f in escalated.findings.values() if f.payout_id is not None]
    assert (finding.finding_id, finding.kind, finding.state) == (
        "payout-po_Q",
        "missing_at_psp",
        "open",
    )
    assert finding.supersedes == f"{run.id}/payout-po_Q"
