"""Our side for the file tests: orders and payouts with the PSP references a file names, a
database of their own, and what a run made of each line."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

from payments.domain.application import PaymentsApplication
from payments.domain.execution import FailureCode
from payments.domain.payout import Payout
from payments.domain.reconciliation_run import ReconciliationRun
from payments.projections.catalog import live_view
from payments.projections.runner import ProjectionRunner
from payments.projections.source import ApplicationEventSource
from payments.projections.views.ledger_pg import PostgresLedger
from payments.psp.settlement import (
    QuarantinedLine,
    SettlementLine,
    read_settlement,
    write_settlement_csv,
)
from payments.runtime.services import Services
from tests.projections.events import new_order

FILES = Path(__file__).parent / "files"
# Notes about a matched line (it settled late, or cleared an earlier wait): not its class.
NOTES = frozenset({"settled_outside_period", "cleared"})
BOOKED_AS = {
    "capture": "matched",
    "payout": "matched",
    "payout_return": "matched",
    "fee": "fees_booked",
    "bank": "paid_to_bank",
}


def order(
    app: PaymentsApplication, order_id: str, amount_minor: int, status: str, psp: str = ""
) -> None:
    """One order of ours: NOT_STARTED, EXECUTING, SUCCESS (under `psp`) or FAILED."""
    made = new_order(order_id, "seller_files", amount_minor, checkout=f"co_{order_id}")
    if status != "NOT_STARTED":
        made.start_execution()
    if status == "SUCCESS":
        made.record_success(psp, source="test")
    elif status == "FAILED":
        made.record_failure(FailureCode.CARD_DECLINED, "declined", psp or None, source="test")
    app.record(made)


def payout(
    app: PaymentsApplication, payout_id: str, amount_minor: int, status: str, psp: str
) -> None:
    """One payout of ours: PAID or RETURNED under `psp`."""
    made = Payout(payout_id, "seller_files", amount_minor, "USD", "seller_files", None, None)
    made.start_execution()
    made.record_paid(psp, source="test")
    if status == "RETURNED":
        made.record_returned(psp, source="test")
    app.record(made)


def captured(
    order_id: str,
    gross: int,
    moment: datetime,
    batch: int | None,
    fee: int = 30,
    modification_reference: str = "",
) -> SettlementLine:
    """The Settled line of our order's charge `ch_<order_id>`, its fee as commission."""
    return SettlementLine(
        psp_reference=f"ch_{order_id}", merchant_reference=order_id, type="Settled",
        creation_date=moment, currency="USD", gross_credit_minor=gross,
        net_credit_minor=gross - fee, commission_minor=fee, batch_number=batch,
        modification_reference=modification_reference,
    )  # fmt: skip


def closed_by_payout(
    lines: list[SettlementLine], moment: datetime, batch: int, reference: str = ""
) -> list[SettlementLine]:
    """`lines` and the MerchantPayout line of their batch that pays out (or in) their net."""
    net = sum(line.net_credit_minor - line.net_debit_minor for line in lines)
    payout = SettlementLine(
        psp_reference="", merchant_reference="", type="MerchantPayout", creation_date=moment,
        currency="USD", net_debit_minor=max(net, 0), net_credit_minor=max(-net, 0),
        batch_number=batch, modification_reference=reference,
    )  # fmt: skip
    return [*lines, payout]


def written(path: Path, lines: list[SettlementLine]) -> Path:
    """`lines` written at `path` as an Adyen file (amounts in cents)."""
    out = io.StringIO()
    write_settlement_csv(lines, out, 2)
    path.write_text(out.getvalue())
    return path


def data_lines(path: Path) -> set[int]:
    """The line numbers of every record of a file, as the reader numbers them."""
    with path.open("rb") as stream:
        return {item.line_number for item in read_settlement(stream)}


def quarantined_lines(path: Path) -> set[int]:
    with path.open("rb") as stream:
        return {i.line_number for i in read_settlement(stream) if isinstance(i, QuarantinedLine)}


def classes_by_line(run: ReconciliationRun) -> dict[int, str]:
    """Each line's one class: what it was booked as, or its finding (batch and notes aside)."""
    by_line: dict[int, str] = {}
    for chunk in run.settled:
        for booking in chunk.booked():
            assert booking.line not in by_line
            by_line[booking.line] = BOOKED_AS[booking.booking]
    for finding in run.findings.values():
        if finding.line is None or finding.kind in NOTES or finding.kind == "batch_mismatch":
            continue
        assert finding.line not in by_line, (finding.line, by_line[finding.line], finding.kind)
        by_line[finding.line] = finding.kind
    return by_line


def already_reconciled(run: ReconciliationRun) -> int:
    return sum(chunk.already_reconciled for chunk in run.settled)


def open_exceptions(run: ReconciliationRun) -> list[tuple[str, int | None]]:
    return sorted(
        (f.kind, f.line) for f in run.findings.values() if run.state_of(f.finding_id) == "open"
    )


def ledger_balances(services: Services) -> dict[str, int]:
    """The ledger caught up to the head of the log: balance (debit +) by account."""
    source = ApplicationEventSource(services.application)
    ProjectionRunner(live_view(services.pool, "ledger"), source, batch_size=500).catch_up()
    trial = PostgresLedger(services.pool).trial_balance()
    return {account.account: account.balance_minor for account in trial.accounts}
