"""A day of traffic with faults, then the day's settlement file from the real sandbox over HTTP.

Every line is classified, safe differences are fixed once the PSP confirms them, the ledger
then agrees with the PSP's totals; tampered copies give exactly their finding (the day's run
remembers what it booked, so a copy is judged against it); unreadable files record nothing;
re-runs are idempotent; reports are deterministic.
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from payments.cli.main import main
from payments.domain.payment_order import Status
from payments.domain.reconciliation_run import ReconciliationRun
from payments.projections.reconciliation.report import report_csv, report_json
from tests.executor.conftest import Stack
from tests.executor.helpers import event_names, place, terminal
from tests.reconciliation import tamper
from tests.reconciliation.records import open_exceptions as exceptions
from tests.waiting import wait_until


@dataclass
class Day:
    day: date
    text: str
    summary: dict[str, Any]
    stuck: list[str]  # EXECUTING orders the PSP charged: reconciliation must fix them
    run: ReconciliationRun
    before: int  # the log's head before the day's run (a dry run against the history then)


def head(stack: Stack) -> int:
    return int(stack.services.application.recorder.max_notification_id() or 0)


def classes(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["class"]: row for row in summary["classes"]}


@pytest.fixture(scope="module")
def day(stack: Stack) -> Day:
    rng = random.Random(7)
    # Ordinary traffic with faults the executor absorbs: 500s, charged-but-500, resets,
    # dropped and duplicated webhooks.
    for rule in (
        {"kind": "status", "status": 503, "count": 3, "endpoint": "charges"},
        {"kind": "charged_but_500", "count": 3, "endpoint": "charges"},
        {"kind": "reset", "count": 1, "endpoint": "charges"},
        {"kind": "drop_webhook", "count": 4},
        {"kind": "duplicate_webhook", "count": 2},
    ):
        stack.sandbox.fault(**rule)
    cards = ["success"] * 14 + ["declined", "insufficient", "processing_error", "pending"] * 2
    ordinary: list[str] = []
    for card in cards:
        amounts = [
            f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}" for _ in range(rng.randint(1, 3))
        ]
        ordinary += place(stack, stack.sandbox.token(card), amounts)
    stack.settle(lambda: terminal(stack, *ordinary), timeout=40)
    stack.sandbox.clear_faults()

    # Orders the PSP charged whose outcome never reached us: the answer was a 500 and the
    # webhook was dropped, or the charge went pending and its webhook was dropped. The
    # executor gets one round each and then waits an hour to retry, as if it had died.
    executor = stack.executor
    executor.run_until_idle()
    saved = executor.config, executor.feeder.view.first_requery_delay
    executor.config = dataclasses.replace(saved[0], backoff_base_s=3600.0, backoff_cap_s=3600.0)
    executor.feeder.view.first_requery_delay = timedelta(hours=1)
    stuck: list[str] = []
    try:
        for card, fault in (("success", "charged_but_500"), ("pending", None)):
            if fault:
                stack.sandbox.fault(kind=fault, count=2, endpoint="charges")
            stack.sandbox.fault(kind="drop_webhook", count=2, endpoint="charges")
            stuck += place(stack, stack.sandbox.token(card), ["12.34", "56.78"])
            executor.feeder.run_once()
            executor.run_once()
    finally:
        executor.config, executor.feeder.view.first_requery_delay = saved
    for order_id in stuck:
        assert stack.order(order_id).status is Status.EXECUTING
    time.sleep(0.8)  # the sandbox settles the pending charges (their webhooks are dropped)
    stack.sandbox.clear_faults()

    today = datetime.now(UTC).date()
    text = httpx.get(f"{stack.sandbox.url}/v1/settlements/{today}.csv").text
    before = head(stack)
    summary = stack.services.reconciler.fetch_and_reconcile(today)
    run = stack.services.reconciliations.get_run(summary["run_id"])
    return Day(today, text, summary, stuck, run, before)


def test_every_line_is_classified_and_nothing_is_left_open(day: Day) -> None:
    header, rows = tamper.read_rows(day.text)
    settled = tamper.settled_indexes(header, rows)
    by_class = classes(day.summary)
    line_findings = [f for f in day.run.findings.values() if f.line is not None]
    assert day.summary["created"] is True
    assert day.summary["lines"] == len(rows)
    assert by_class["matched"]["count"] + len(line_findings) == len(settled)
    assert by_class["status_mismatch"]["count"] == len(day.stuck)
    assert by_class["status_mismatch"]["auto_fixed"] == len(day.stuck)
    assert day.summary["open_exceptions"] == 0
    assert exceptions(day.run) == []
    assert day.summary["batches"][0]["net"] == day.summary["batches"][0]["payout"]


def test_stuck_orders_get_the_psps_outcome_through_the_order_commands(
    stack: Stack, day: Day
) -> None:
    for order_id in day.stuck:
        order = stack.order(order_id)
        assert order.status is Status.SUCCESS
        assert event_names(stack, order_id)[-1] == "Succeeded"
        assert stack.sandbox.charges(order_id) == 1
    fixes = day.run.auto_fixes.values()
    assert sorted(fix.payment_order_id for fix in fixes) == sorted(day.stuck)
    assert {fix.outcome for fix in fixes} == {"recorded_success"}
    sources = [
        event.source
        for order_id in day.stuck
        for event in stack.services.application.events.get(stack.order(order_id).id)
        if type(event).__name__ == "Succeeded"
    ]
    assert sources == ["reconciliation"] * len(day.stuck)


def test_ledger_after_reconciliation_equals_the_psps_totals(stack: Stack, day: Day) -> None:
    header, rows = tamper.read_rows(day.text)
    settled = [rows[i] for i in tamper.settled_indexes(header, rows)]
    gross = sum(Decimal(tamper.cell(header, r, "Gross Credit (GC)")) for r in settled)
    fees = sum(Decimal(tamper.cell(header, r, "Commission (NC)") or "0") for r in settled)
    payout = Decimal(tamper.cell(header, tamper.payout_row(header, rows), "Net Debit (NC)"))

    def trial() -> dict[str, Decimal]:
        answer = stack.http.get("/ledger/trial-balance", params={"min_position": head(stack)})
        assert answer.status_code == 200, answer.text
        return {line["account"]: Decimal(line["balance"]) for line in answer.json()["accounts"]}

    wait_until(lambda: "psp_fees" in trial())
    balances = trial()
    # Each settled line moved its capture from psp_receivable to psp_balance (net) and
    # psp_fees; the batch's MerchantPayout line moved psp_balance to our bank.
    assert balances["bank"] == payout
    assert balances.get("psp_receivable", Decimal(0)) == 0  # the day is fully settled
    assert balances.get("psp_balance", Decimal(0)) == 0
    assert balances["psp_fees"] == fees
    sellers = sum(v for k, v in balances.items() if k.startswith("seller:"))
    assert sellers == -gross
    assert sum(balances.values()) == 0


def test_reconciling_the_same_file_again_returns_the_same_run_and_records_nothing(
    stack: Stack, day: Day
) -> None:
    before = head(stack)
    again = stack.services.reconciler.fetch_and_reconcile(day.day)
    assert again["created"] is False
    assert {k: v for k, v in again.items() if k != "created"} == {
        k: v for k, v in day.summary.items() if k != "created"
    }
    assert head(stack) == before


def _variant(day: Day, edit: Any) -> str:
    header, rows = tamper.read_rows(day.text)
    edit(header, rows)
    return tamper.write_rows(header, rows)


def _reconcile_text(stack: Stack, tmp_path: Path, text: str, **options: Any) -> ReconciliationRun:
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    path.write_text(text)
    return stack.services.reconciler.reconcile_path(path, **options).run


def _shift_payout(header: list[str], rows: tamper.Rows, delta: Decimal) -> None:
    tamper.add_amount(header, tamper.payout_row(header, rows), "Net Debit (NC)", delta)


def _line_of(rows_before: int) -> int:
    return rows_before + 2  # line 1 is the header


def test_a_changed_amount_is_exactly_one_amount_mismatch(
    stack: Stack, day: Day, tmp_path: Path
) -> None:
    def edit(header: list[str], rows: tamper.Rows) -> None:
        row = rows[tamper.settled_indexes(header, rows)[3]]
        tamper.add_amount(header, row, "Gross Credit (GC)", Decimal("1.00"))
        tamper.add_amount(header, row, "Net Credit (NC)", Decimal("1.00"))
        _shift_payout(header, rows, Decimal("1.00"))

    header, rows = tamper.read_rows(day.text)
    line = _line_of(tamper.settled_indexes(header, rows)[3])
    run = _reconcile_text(stack, tmp_path, _variant(day, edit))
    assert exceptions(run) == [("amount_mismatch", line)]
    finding = run.findings[f"line-{line}"]
    assert finding.psp_minor == finding.expected_minor + 100  # type: ignore[operator]


def test_a_removed_line_is_awaiting_then_missing_at_psp_after_the_window(
    stack: Stack, day: Day, tmp_path: Path
) -> None:
    header, rows = tamper.read_rows(day.text)
    index = tamper.settled_indexes(header, rows)[1]
    order_id = tamper.cell(header, rows[index], "Merchant Reference")

    def edit(header: list[str], rows: tamper.Rows) -> None:
        net = Decimal(tamper.cell(header, rows[index], "Net Credit (NC)"))
        del rows[index]
        _shift_payout(header, rows, -net)

    later = datetime.now(UTC) + timedelta(days=4)
    # Judged against the history before the day's run (which settled every order of the day):
    # a dry run, so that this copy is the first file to miss the order.
    text = _variant(day, edit)
    run = _reconcile_text(stack, tmp_path, text, as_of=later, dry_run=True, through=day.before)
    assert exceptions(run) == [("missing_at_psp", None)]
    assert run.findings[f"order-{order_id}"].payment_order_id == order_id


def test_an_added_line_is_exactly_one_missing_internally(
    stack: Stack, day: Day, tmp_path: Path
) -> None:
    def edit(header: list[str], rows: tamper.Rows) -> None:
        copy = list(rows[tamper.settled_indexes(header, rows)[0]])
        tamper.set_cell(header, copy, "Merchant Reference", "order_we_never_took")
        tamper.set_cell(header, copy, "Psp Reference", "ch_forged")
        rows.insert(0, copy)
        _shift_payout(header, rows, Decimal(tamper.cell(header, copy, "Net Credit (NC)")))

    run = _reconcile_text(stack, tmp_path, _variant(day, edit))
    assert exceptions(run) == [("missing_internally", 2)]


def test_a_duplicated_line_is_exactly_one_duplicate(stack: Stack, day: Day, tmp_path: Path) -> None:
    header, rows = tamper.read_rows(day.text)
    index = tamper.settled_indexes(header, rows)[2]

    def edit(header: list[str], rows: tamper.Rows) -> None:
        rows.insert(index + 1, list(rows[index]))
        _shift_payout(header, rows, Decimal(tamper.cell(header, rows[index], "Net Credit (NC)")))

    run = _reconcile_text(stack, tmp_path, _variant(day, edit))
    assert exceptions(run) == [("duplicate", _line_of(index + 1))]


def test_a_line_in_another_currency_is_exactly_one_currency_mismatch(
    stack: Stack, day: Day, tmp_path: Path
) -> None:
    header, rows = tamper.read_rows(day.text)
    index = tamper.settled_indexes(header, rows)[4]

    def edit(header: list[str], rows: tamper.Rows) -> None:
        tamper.set_cell(header, rows[index], "Gross Currency", "EUR")
        tamper.set_cell(header, rows[index], "Net Currency", "EUR")

    run = _reconcile_text(stack, tmp_path, _variant(day, edit))
    assert exceptions(run) == [("currency_mismatch", _line_of(index))]


def test_a_broken_batch_total_is_exactly_one_batch_mismatch(
    stack: Stack, day: Day, tmp_path: Path
) -> None:
    run = _reconcile_text(
        stack,
        tmp_path,
        _variant(day, lambda header, rows: _shift_payout(header, rows, Decimal("0.01"))),
    )
    _, rows = tamper.read_rows(day.text)
    assert exceptions(run) == [("batch_mismatch", len(rows) + 1)]
    assert run.fees == []  # the batch's fees were booked once, by the first run


def test_upload_over_http_is_idempotent_and_returns_the_existing_run(
    stack: Stack, day: Day
) -> None:
    def post(key: str | None) -> httpx.Response:
        headers = {"content-type": "text/csv"}
        if key:
            headers["Idempotency-Key"] = key
        return stack.http.post("/reconciliations", content=day.text, headers=headers)

    assert post(None).status_code == 400
    first = post("upload-1")
    assert first.status_code == 200, first.text  # the scheduler already reconciled this file
    assert first.json()["run_id"] == day.summary["run_id"]
    assert first.headers["location"] == f"/reconciliations/{day.summary['run_id']}"
    replay = post("upload-1")
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    other_body = stack.http.post(
        "/reconciliations",
        content=day.text + "\n",
        headers={"content-type": "text/csv", "Idempotency-Key": "upload-1"},
    )
    assert other_body.status_code == 422
    wrong_type = stack.http.post(
        "/reconciliations",
        content=day.text,
        headers={"content-type": "application/json", "Idempotency-Key": "upload-2"},
    )
    assert wrong_type.status_code == 415


def test_exceptions_are_listed_and_resolved_once(stack: Stack, day: Day, tmp_path: Path) -> None:
    def edit(header: list[str], rows: tamper.Rows) -> None:
        row = rows[tamper.settled_indexes(header, rows)[5]]
        tamper.add_amount(header, row, "Gross Credit (GC)", Decimal("0.50"))

    run = _reconcile_text(stack, tmp_path, _variant(day, edit))
    base = f"{stack.api_url}/reconciliations/{run.id}"
    listed = stack.http.get(f"{base}/exceptions").json()
    [item] = listed["exceptions"]
    assert item["kind"] == "amount_mismatch"
    assert item["state"] == "open"
    url = f"{base}/exceptions/{item['finding_id']}/resolve"
    body = {"action": "write_off", "reason": "PSP rounding, agreed with finance"}
    assert stack.http.post(url, json={"action": "shrug", "reason": "x"}).status_code == 422
    assert stack.http.post(url, json={**body, "extra": 1}).status_code in (400, 422)
    done = stack.http.post(url, json=body)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "resolved"
    assert stack.http.post(url, json=body).status_code == 409
    assert stack.http.post(f"{base}/exceptions/line-999999/resolve", json=body).status_code == 404
    assert stack.http.get(f"{base}/exceptions").json()["exceptions"] == []
    resolved = stack.http.get(f"{base}/exceptions", params={"state": "resolved"}).json()
    assert resolved["exceptions"][0]["resolution"] == {
        "action": "write_off",
        "reason": body["reason"],
    }
    summary = stack.http.get(base).json()
    assert summary["open_exceptions"] == 0
    assert stack.http.get(f"/reconciliations/{uuid.uuid4()}").status_code == 404
    assert stack.http.get("/reconciliations/not-a-run").status_code == 404


def test_reports_are_deterministic_byte_for_byte(stack: Stack, day: Day, tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text(day.text)
    files = []
    for attempt in range(2):
        out_csv, out_json = tmp_path / f"r{attempt}.csv", tmp_path / f"r{attempt}.json"
        result = CliRunner().invoke(
            main,
            ["reconcile", str(path), "--report-csv", str(out_csv), "--report-json", str(out_json)],
            env=stack.env,
        )
        assert result.exit_code == 0, result.output
        assert "already reconciled" in result.output
        files.append((out_csv.read_bytes(), out_json.read_bytes()))
    assert files[0] == files[1]
    base = f"{stack.api_url}/reconciliations/{day.summary['run_id']}"
    assert stack.http.get(f"{base}/report.csv").content == files[0][0]
    assert stack.http.get(f"{base}/report.json").content == files[0][1]
    reloaded = stack.services.reconciliations.get_run(day.summary["run_id"])
    assert report_csv(reloaded) == files[0][0]
    assert report_json(reloaded) == files[0][1]
    assert b"generated" not in files[0][1]


def test_the_summary_prints_as_a_table_and_as_json(stack: Stack, day: Day, tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text(day.text)
    table = CliRunner().invoke(main, ["reconcile", str(path)], env=stack.env)
    assert table.exit_code == 0, table.output
    assert "matched" in table.output
    assert "status_mismatch" in table.output
    as_json = CliRunner().invoke(main, ["reconcile", str(path), "--json"], env=stack.env)
    assert as_json.exit_code == 0
    assert '"run_id": "' + day.summary["run_id"] in as_json.output
