"""Files in the layouts the PSPs document (tests/reconciliation/files/), reconciled against our
records in PostgreSQL: every line gets exactly one class, a second file for the same day
undoes nothing, a payout paid twice is found, and each line is booked once whatever the order
of the files.

The Adyen files hold every record type of the Settlement details report, a newer layout (more
trailing columns, a byte-order mark, CRLF, a quoted comma) and an older one (fewer trailing
columns), net-only lines, amounts written ".11" and "-0.11", a second currency in its own
batch, an unknown type and a value that does not parse. The Stripe (itemized payout
reconciliation) and PayPal (settlement report, STL) files hold their own kinds of lines.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from payments.projections.reconciliation.exceptions import Now, Replayed, load_runs
from payments.runtime.services import Services
from tests.conftest import services_on_new_database
from tests.reconciliation.records import (
    FILES,
    already_reconciled,
    classes_by_line,
    data_lines,
    ledger_balances,
    open_exceptions,
    order,
    payout,
    quarantined_lines,
)

DAY1 = FILES / "adyen" / "settlement_detail_report_batch_501.csv"
DAY1_AGAIN = FILES / "adyen" / "settlement_detail_report_batch_501_reexport.csv"
DAY2 = FILES / "adyen" / "settlement_detail_report_batch_502.csv"
STRIPE = FILES / "stripe" / "itemized_payout_reconciliation_po_1PQ5s2.csv"
PAYPAL = FILES / "paypal" / "STL-20240506.01.011.CSV"


def adyen_records(services: Services) -> None:
    app = services.application
    for order_id, amount, status in (
        ("po_a1", 10000, "SUCCESS"),
        ("po_a2", 2550, "SUCCESS"),
        ("po_a3", 11, "SUCCESS"),
        ("po_a4", 3000, "SUCCESS"),
        ("po_a5", 4000, "EXECUTING"),
        ("po_a6", 1200, "FAILED"),
        ("po_a7", 1500, "SUCCESS"),
        ("po_a9", 6000, "SUCCESS"),
        ("po_a10", 800, "SUCCESS"),
    ):
        number = {"po_a7": 30, "po_a9": 40, "po_a10": 50}.get(order_id, int(order_id[4:]))
        order(app, order_id, amount, status, f"88510000000000{number:02d}")
    payout(app, "pay_b1", 5000, "PAID", "8861000000000001")
    payout(app, "pay_b2", 2000, "RETURNED", "8861000000000002")
    payout(app, "pay_b3", 1500, "RETURNED", "8861000000000003")


def stripe_records(services: Services) -> None:
    order(services.application, "po_s1", 4200, "SUCCESS", "pi_1s1")
    order(services.application, "po_s2", 1999, "SUCCESS", "pi_1s2")
    payout(services.application, "pay_s1", 3000, "PAID", "tr_1s6")


def paypal_records(services: Services) -> None:
    order(services.application, "po_p1", 2500, "SUCCESS", "9PP11111")
    order(services.application, "po_p2", 1000, "SUCCESS", "9PP22222")
    payout(services.application, "pay_p1", 3000, "PAID", "9PP55555")


U, C, X = "unmatched_refund", "unmatched_chargeback", "unmatched_correction"
EXPECTED: dict[str, tuple[Path, object, dict[int, str], list[tuple[str, int | None]]]] = {
    "adyen": (
        DAY1,
        adyen_records,
        {
            2: "matched",
            3: "matched",
            4: "matched",
            5: "matched",  # 4: ".11"; 5: net-only
            6: "status_mismatch",
            7: "status_mismatch",
            8: "missing_internally",
            9: U,
            10: U,
            11: C,
            12: C,
            13: C,
            14: U,
            15: "fees_booked",
            16: "fees_booked",
            17: "fees_booked",  # 16: "-0.11"
            18: X,
            19: X,
            20: X,
            21: "not_reconciled",
            22: "matched",
            23: "matched",
            24: "matched",
            25: "matched",  # payouts, a return
            26: "unknown_type",
            27: "unreadable_line",
            28: "paid_to_bank",
            29: "currency_mismatch",
            30: "foreign_currency",
            31: "foreign_currency",  # EUR
        },
        # Batch 501 pays out what its two unreadable lines moved too: it cannot add up.
        [("batch_mismatch", 28)],
    ),
    "stripe": (
        STRIPE,
        stripe_records,
        {
            2: "matched",
            3: "matched",
            4: U,
            5: C,
            6: "fees_booked",
            7: "matched",
            8: "unknown_type",
            9: X,
            10: "foreign_currency",
            11: "unreadable_line",
        },
        [],
    ),
    "paypal": (
        PAYPAL,
        paypal_records,
        {
            5: "matched",
            6: "matched",
            7: U,
            8: C,
            9: "matched",
            10: "paid_to_bank",
            11: "fees_booked",
            12: "unknown_type",
            13: "unreadable_line",
            14: "foreign_currency",
        },
        [],
    ),
}


@pytest.mark.parametrize("layout", list(EXPECTED))
def test_every_line_of_a_real_layout_gets_exactly_one_class(
    admin_database_url: str, layout: str
) -> None:
    path, records, expected, batch_findings = EXPECTED[layout]
    with services_on_new_database(admin_database_url) as services:
        records(services)  # type: ignore[operator]
        outcome = services.reconciler.reconcile_path(path)
        run = outcome.run
        assert run.file_format == layout
        assert run.lines == len(data_lines(path))
        assert classes_by_line(run) == expected
        assert set(expected) == data_lines(path)
        assert already_reconciled(run) == 0
        batches = sorted(
            (f.kind, f.line) for f in run.findings.values() if f.finding_id.startswith("batch-")
        )
        assert batches == batch_findings
        for line in quarantined_lines(path):  # kept with its raw text and the cell at fault
            finding = run.findings[f"line-{line}"]
            assert finding.raw
            assert finding.column
        # No PSP to confirm with: the order we show EXECUTING that the file settled stays open.
        fixes = {
            f.finding_id: run.state_of(f.finding_id)
            for f in run.findings.values()
            if f.kind == "status_mismatch"
        }
        assert set(fixes.values()) <= {"open"}
        # The day's summary from the exceptions' view counts what the run replayed counts.
        day, at = date.fromisoformat(run.period_start), datetime.now(UTC)
        app, pool = services.application, services.pool
        from_view = Now(app, pool).summary(day, at, run.currency)
        assert from_view == Replayed(load_runs(app, pool)).summary(day, at, run.currency)
        assert {c["class"] for c in from_view["classes"]} >= {"matched", "fees_booked"}


def test_a_second_different_file_for_the_same_day_undoes_nothing(admin_database_url: str) -> None:
    with services_on_new_database(admin_database_url) as services:
        adyen_records(services)
        first = services.reconciler.reconcile_path(DAY1).run
        after_first = ledger_balances(services)
        again = services.reconciler.reconcile_path(DAY1_AGAIN).run
        assert again.id != first.id
        # Every line the first file carried is recognised (lines 2-25 and the payout line 29),
        # but the two it could not read: only their text names them, and this layout's text
        # differs, so they are reported again. The late capture is new.
        assert already_reconciled(again) == 25
        assert classes_by_line(again) == {26: "unknown_type", 27: "unreadable_line", 28: "matched"}
        assert [f.kind for f in again.findings.values() if f.kind == "awaiting_settlement"] == []
        after_again = ledger_balances(services)
        late_capture = {"psp_balance": 5826, "psp_fees": 174, "psp_receivable": -6000}
        for account in set(after_first) | set(after_again):
            booked = after_again.get(account, 0) - after_first.get(account, 0)
            assert booked == late_capture.get(account, 0), account  # nothing booked twice


def test_a_payout_paid_again_in_a_later_file_is_a_duplicate_settlement(
    admin_database_url: str,
) -> None:
    with services_on_new_database(admin_database_url) as services:
        adyen_records(services)
        first = services.reconciler.reconcile_path(DAY1).run
        second = services.reconciler.reconcile_path(DAY2).run
        assert classes_by_line(second) == {
            2: "duplicate_settlement",  # pay_b1 paid out again
            3: "matched",  # pay_b3 came back
            4: "matched",
            5: "fees_booked",
            6: "paid_to_bank",
        }
        double = second.findings["line-2"]
        assert (double.payout_id, double.expected_minor, double.psp_minor) == (
            "pay_b1",
            -5000,
            -5000,
        )
        assert f"run {first.id} line 22" in double.detail
        assert open_exceptions(second) == [("duplicate_settlement", 2)]
        # The second payment left the PSP balance: accepting the PSP's figure books it.
        resolved = services.reconciliations.resolve(
            str(second.id), "line-2", "accept_psp", "PSP paid twice; recovery FIN-7", "ops@x"
        )
        posted = resolved.resolutions["line-2"]
        assert posted.entries == {"psp_balance": -5000, "write_offs": 5000}
        assert posted.resolved_by == "ops@x"
        assert ledger_balances(services)["write_offs"] == 5000


def test_each_line_is_booked_once_whatever_the_order_of_the_files(admin_database_url: str) -> None:
    ledgers = []
    for files in ((DAY1, DAY1_AGAIN, DAY2), (DAY2, DAY1_AGAIN, DAY1)):
        with services_on_new_database(admin_database_url) as services:
            adyen_records(services)
            for path in files:
                services.reconciler.reconcile_path(path)
            ledgers.append(ledger_balances(services))
    assert ledgers[0] == ledgers[1]
    fees = 250 + 11 + 35 + 174 + 290 + 74 + 87 + 23 + 150  # fee lines and matched captures' fees
    assert ledgers[0]["psp_fees"] == fees
    # Receivable left: po_a7 (settled in EUR only); po_a5 and po_a6 never succeeded with us.
    assert ledgers[0]["psp_receivable"] == 1500
