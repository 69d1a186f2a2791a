"""The deployment's rules on PostgreSQL: a returned payout's credit line is awaited, then an
exception with its age and due date; a tolerance; a dry run records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from payments.domain.reconciliation.outcome import Rules
from payments.domain.reconciliation.recording import start_run
from payments.domain.reconciliation_run import ReconciliationRun
from payments.psp.reconcile.engine import ReconcileOptions, classify_file, file_sha256
from payments.psp.settlement import SettlementLine
from payments.runtime.services import Services
from tests.conftest import services_on_new_database
from tests.reconciliation.records import (
    captured,
    classes_by_line,
    closed_by_payout,
    ledger_balances,
    open_exceptions,
    order,
    payout,
    written,
)


def write_file(tmp_path: Path, day: date, lines: list[SettlementLine], name: str) -> Path:
    """A day's Adyen file of `lines` (batch YYYYMMDD), closed by its MerchantPayout line."""
    moment = datetime(day.year, day.month, day.day, 12, 0, 0)
    batch = int(day.strftime("%Y%m%d"))
    lines = [SettlementLine(**{**line.__dict__, "creation_date": moment, "batch_number": batch})
             for line in lines]  # fmt: skip
    return written(
        tmp_path / f"{name}.csv", closed_by_payout(lines, moment, batch, f"payout-{batch}")
    )


def transfer(payout_id: str, debit: int = 0, credit: int = 0, suffix: str = "") -> SettlementLine:
    return SettlementLine(
        psp_reference=f"psp_{payout_id}", merchant_reference=payout_id, type="Balancetransfer",
        creation_date=datetime(2000, 1, 1), currency="USD", gross_debit_minor=debit,
        net_debit_minor=debit, gross_credit_minor=credit, net_credit_minor=credit,
        modification_reference=f"{payout_id}{suffix}",
    )  # fmt: skip


def capture(order_id: str, gross: int, fee: int) -> SettlementLine:
    return captured(
        order_id, gross, datetime(2000, 1, 1), None, fee, modification_reference=order_id
    )


class ReturnedPayout(NamedTuple):
    services: Services
    first: ReconciliationRun
    today: date
    now: datetime


@pytest.fixture
def returned_payout(admin_database_url: str, tmp_path: Path) -> Iterator[ReturnedPayout]:
    """Our payout pay_r, returned; `first`, the run of today's file, which carries only its
    debit line."""
    today, now = datetime.now(UTC).date(), datetime.now(UTC)
    with services_on_new_database(admin_database_url) as services:
        payout(services.application, "pay_r", 700, "RETURNED", "psp_pay_r")
        paid_only = write_file(tmp_path, today, [transfer("pay_r", debit=700)], "paid")
        first = services.reconciler.reconcile_path(paid_only, as_of=now).run
        yield ReturnedPayout(services, first, today, now)


def test_a_returned_payouts_credit_line_is_awaited_then_an_exception_with_age_and_due_date(
    returned_payout: ReturnedPayout, tmp_path: Path
) -> None:
    services, first, today, now = returned_payout
    awaited = first.findings["payout-return-pay_r"]
    assert (awaited.kind, awaited.state, awaited.expected_minor) == (
        "awaiting_settlement",
        "info",
        700,
    )
    assert awaited.since is not None
    assert awaited.due is not None
    since = datetime.fromisoformat(awaited.since)
    assert datetime.fromisoformat(awaited.due) - since == timedelta(days=3)

    later = write_file(tmp_path, today + timedelta(days=4), [], "later")
    escalated = services.reconciler.reconcile_path(later, as_of=now + timedelta(days=4)).run
    missing = escalated.findings["payout-return-pay_r"]
    assert (missing.kind, missing.state) == ("missing_at_psp", "open")
    assert missing.supersedes == f"{first.id}/payout-return-pay_r"
    assert open_exceptions(escalated) == [("missing_at_psp", None)]
    # The PSP never got it back: accepting that undoes the return (the seller kept it).
    before = ledger_balances(services)
    resolved = services.reconciliations.resolve(
        str(escalated.id), "payout-return-pay_r", "accept_psp", "bank confirms no return", "fin"
    )
    assert resolved.resolutions["payout-return-pay_r"].entries == {
        "psp_balance": -700,
        "seller:seller_files": 700,
    }
    after = ledger_balances(services)
    assert after["psp_balance"] - before["psp_balance"] == -700
    assert after["seller:seller_files"] == 700  # as if paid and never returned


def test_a_returned_payouts_credit_line_arriving_later_clears_the_wait(
    returned_payout: ReturnedPayout, tmp_path: Path
) -> None:
    services, first, today, now = returned_payout
    back = [transfer("pay_r", credit=700, suffix="-return")]
    second_file = write_file(tmp_path, today + timedelta(days=1), back, "back")
    second = services.reconciler.reconcile_path(second_file, as_of=now).run
    assert classes_by_line(second) == {2: "matched", 3: "paid_to_bank"}
    cleared = second.findings["line-2"]
    assert (cleared.kind, cleared.supersedes) == ("cleared", f"{first.id}/payout-return-pay_r")


def test_a_tolerance_matches_small_differences_and_writes_them_off(
    admin_database_url: str, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    env = {"PAYMENTS_RECONCILIATION_TOLERANCE": "0.05"}
    with services_on_new_database(admin_database_url, **env) as services:
        order(services.application, "po_t1", 1000, "SUCCESS", "ch_po_t1")
        order(services.application, "po_t2", 2000, "SUCCESS", "ch_po_t2")
        path = write_file(
            tmp_path, today, [capture("po_t1", 997, 30), capture("po_t2", 2006, 60)], "t"
        )
        run = services.reconciler.reconcile_path(path).run
        assert run.tolerance_minor == 5
        assert classes_by_line(run) == {2: "matched", 3: "amount_mismatch", 4: "paid_to_bank"}
        balances = ledger_balances(services)
        assert balances["write_offs"] == 3  # 10.00 of ours, 9.97 settled
        assert balances["psp_receivable"] == 2000  # po_t2 is not settled until resolved


def test_a_dry_run_records_nothing(admin_database_url: str, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    with services_on_new_database(admin_database_url) as services:
        order(services.application, "po_d1", 1000, "SUCCESS", "ch_po_d1")
        path = write_file(tmp_path, today, [capture("po_d1", 1000, 30)], "d")
        head = services.application.recorder.max_notification_id()
        outcome = services.reconciler.reconcile_path(path, dry_run=True)
        assert outcome.dry_run
        assert not outcome.created
        assert classes_by_line(outcome.run) == {2: "matched", 3: "paid_to_bank"}
        assert services.application.recorder.max_notification_id() == head
        assert services.reconciliations.find_run(outcome.run.file_sha256) is None


def test_a_run_interrupted_while_it_was_recorded_is_finished_by_the_next_run_of_its_file(
    admin_database_url: str, tmp_path: Path
) -> None:
    today, now = datetime.now(UTC).date(), datetime.now(UTC)
    lines = [capture("po_i1", 1000, 30), capture("po_i2", 2000, 60), capture("po_nobody", 5, 0)]
    results = []
    for interrupted in (False, True):
        with services_on_new_database(admin_database_url) as services:
            order(services.application, "po_i1", 1000, "SUCCESS", "ch_po_i1")
            order(services.application, "po_i2", 2000, "SUCCESS", "ch_po_i2")
            path = write_file(tmp_path, today, lines, f"i{interrupted}")
            if interrupted:  # only the run's first slice was saved when the process died
                rules = Rules("USD", as_of=now)
                commands = services.reconciliations
                classification, file_format, ignored = classify_file(
                    commands, path, ReconcileOptions("USD"), rules
                )
                first = start_run(
                    classification, file_sha=file_sha256(path), file_format=file_format,
                    rules=rules, ignored_columns=ignored,
                )  # fmt: skip
                services.application.record(first)
                assert not commands.get_run(str(first.id)).completed
            outcome = services.reconciler.reconcile_path(path, as_of=now)
            run = outcome.run
            assert run.completed
            assert outcome.created is not interrupted
            results.append((classes_by_line(run), open_exceptions(run), ledger_balances(services)))
    assert results[0] == results[1]
    assert results[0][0] == {2: "matched", 3: "matched", 4: "missing_internally", 5: "paid_to_bank"}
