"""Payouts in the settlement file: each Balancetransfer line is checked against our Payout.

The real sandbox pays one payout out and returns another; its day's file carries their
debit lines (and the return's credit line). Tampered copies give exactly their finding.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from payments.domain.payout import PayoutStatus
from payments.domain.reconciliation_run import INFO, OPEN, ReconciliationRun
from tests.executor.conftest import Stack, stack_fixture
from tests.payouts.helpers import credit, post_payout, seller, settle_payout
from tests.reconciliation import tamper

TRANSFER = "Balancetransfer"


# Funds available at once (no settlement needed before paying out).
stack = stack_fixture(PAYMENTS_AVAILABLE_AFTER_DAYS="0")


@dataclass
class PayoutDay:
    text: str
    summary: dict[str, Any]
    run: ReconciliationRun
    paid: str  # payout ids
    returned: str
    unsettled: str  # paid; tampered only by the removed-line test (a file carrying a payout
    # makes later runs stop expecting it)
    before: int  # the log's head before the day's run


def _payout(stack: Stack, prefix: str, amount: str, *statuses: PayoutStatus) -> str:
    account = seller(prefix)
    credit(stack, account, [amount])
    answer = post_payout(stack, account, amount)
    assert answer.status_code == 201, answer.text
    payout_id = str(answer.json()["payout_id"])
    settle_payout(stack, payout_id, *statuses)
    return payout_id


@pytest.fixture(scope="module")
def payout_day(stack: Stack) -> PayoutDay:
    paid = _payout(stack, "paid", "40.00", PayoutStatus.PAID)
    returned = _payout(stack, "return", "8.00", PayoutStatus.RETURNED)  # sandbox: return_*
    unsettled = _payout(stack, "paid", "25.00", PayoutStatus.PAID)
    today = datetime.now(UTC).date()
    text = httpx.get(f"{stack.sandbox.url}/v1/settlements/{today}.csv").text
    before = int(stack.services.application.recorder.max_notification_id() or 0)
    summary = stack.services.reconciler.fetch_and_reconcile(today)
    run = stack.services.reconciliations.get_run(summary["run_id"])
    return PayoutDay(text, summary, run, paid, returned, unsettled, before)


def _open(run: ReconciliationRun) -> list[tuple[str, int | None]]:
    return sorted(
        (f.kind, f.line) for f in run.findings.values() if run.state_of(f.finding_id) == OPEN
    )


def _transfer_indexes(header: list[str], rows: tamper.Rows, payout_id: str) -> list[int]:
    return [
        i
        for i, row in enumerate(rows)
        if tamper.cell(header, row, "Type") == TRANSFER
        and tamper.cell(header, row, "Merchant Reference") == payout_id
    ]


def _close_batch(header: list[str], rows: tamper.Rows) -> None:
    """Rewrite the MerchantPayout line so the batch still adds up after an edit."""
    closing = tamper.payout_row(header, rows)
    net = sum(
        Decimal(tamper.cell(header, row, "Net Credit (NC)") or "0")
        - Decimal(tamper.cell(header, row, "Net Debit (NC)") or "0")
        for row in rows
        if row is not closing
    )
    tamper.set_cell(header, closing, "Net Debit (NC)", f"{net:.2f}" if net > 0 else "")
    tamper.set_cell(header, closing, "Net Credit (NC)", f"{-net:.2f}" if net < 0 else "")


def _reconcile(
    stack: Stack, tmp_path: Path, day: PayoutDay, edit: Any, **options: Any
) -> ReconciliationRun:
    header, rows = tamper.read_rows(day.text)
    edit(header, rows)
    _close_batch(header, rows)
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    path.write_text(tamper.write_rows(header, rows))
    return stack.services.reconciler.reconcile_path(path, **options).run


def test_paid_and_returned_payouts_reconcile_as_matched(payout_day: PayoutDay) -> None:
    header, rows = tamper.read_rows(payout_day.text)
    assert len(_transfer_indexes(header, rows, payout_day.paid)) == 1
    assert len(_transfer_indexes(header, rows, payout_day.returned)) == 2  # paid, then back
    by_class = {row["class"]: row for row in payout_day.summary["classes"]}
    assert by_class["matched"]["count"] == len(rows) - 1  # 3 charges, 4 transfers; not the batch
    assert by_class["matched"]["amount"] == "8.00"  # 73 charged, 73 paid out, 8 came back
    assert by_class["payout_transfer"]["count"] == 0
    assert payout_day.summary["open_exceptions"] == 0
    assert payout_day.run.findings == {}


def test_a_changed_payout_amount_is_exactly_one_amount_mismatch(
    stack: Stack, payout_day: PayoutDay, tmp_path: Path
) -> None:
    header, rows = tamper.read_rows(payout_day.text)
    [index] = _transfer_indexes(header, rows, payout_day.paid)

    def edit(header: list[str], rows: tamper.Rows) -> None:
        tamper.add_amount(header, rows[index], "Gross Debit (GC)", Decimal("1.00"))
        tamper.add_amount(header, rows[index], "Net Debit (NC)", Decimal("1.00"))

    run = _reconcile(stack, tmp_path, payout_day, edit)
    line = index + 2
    assert _open(run) == [("amount_mismatch", line)]
    finding = run.findings[f"line-{line}"]
    assert finding.payout_id == payout_day.paid
    assert (finding.expected_minor, finding.psp_minor) == (-4000, -4100)


def test_a_removed_payout_line_is_awaiting_settlement_within_the_window(
    stack: Stack, payout_day: PayoutDay, tmp_path: Path
) -> None:
    def edit(header: list[str], rows: tamper.Rows) -> None:
        [index] = _transfer_indexes(header, rows, payout_day.unsettled)
        del rows[index]

    # The day's run settled the payout: judged against the history before it, in a dry run.
    run = _reconcile(stack, tmp_path, payout_day, edit, dry_run=True, through=payout_day.before)
    assert _open(run) == []
    finding = run.findings[f"payout-{payout_day.unsettled}"]
    assert (finding.kind, finding.state, finding.line) == ("awaiting_settlement", INFO, None)
    assert (finding.payout_id, finding.expected_minor) == (payout_day.unsettled, -2500)


def test_a_payout_line_for_an_unknown_reference_is_missing_internally(
    stack: Stack, payout_day: PayoutDay, tmp_path: Path
) -> None:
    def edit(header: list[str], rows: tamper.Rows) -> None:
        [index] = _transfer_indexes(header, rows, payout_day.paid)
        copy = list(rows[index])
        tamper.set_cell(header, copy, "Merchant Reference", "payout_we_never_made")
        tamper.set_cell(header, copy, "Psp Reference", "po_forged")
        rows.insert(0, copy)

    run = _reconcile(stack, tmp_path, payout_day, edit)
    assert _open(run) == [("missing_internally", 2)]
    finding = run.findings["line-2"]
    assert finding.payout_id is None
    assert "payout_we_never_made" in finding.detail
