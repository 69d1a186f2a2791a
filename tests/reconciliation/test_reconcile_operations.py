"""Reconciliation as finance runs it, on the real sandbox PSP and the API over HTTP: money moves
only on the PSP's word, files that are partly unreadable still reconcile, exceptions are
worked across runs and post their adjustments, and no day is skipped."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from payments.cli.main import main
from payments.domain.payment_order import Status
from payments.projections.audit.verify import verify_projection
from payments.projections.reconciliation.exceptions import (
    ExceptionQuery,
    Now,
    Replayed,
    load_runs,
)
from payments.projections.reconciliation.report import summary
from payments.projections.source import ApplicationEventSource
from payments.projections.views.reconciliation import ReconciliationExceptionsView
from payments.psp.client import HttpPspClient
from payments.psp.settlement import SettlementFormatError
from payments.runtime.scheduling import job_dependencies
from payments.scheduler.jobs import build_scheduler, job_by_id
from payments.scheduler.runner import run_job, runs_of
from tests.e2e.processes import free_port
from tests.executor.conftest import Stack
from tests.executor.helpers import event_names, place, terminal
from tests.reconciliation import tamper


def head(stack: Stack) -> int:
    return int(stack.services.application.recorder.max_notification_id() or 0)


@pytest.fixture(scope="module")
def today_file(stack: Stack) -> str:
    """Two orders charged and settled at the sandbox, and its settlement file of today."""
    orders = place(stack, stack.sandbox.token("success"), ["19.99", "5.01"])
    stack.settle(lambda: terminal(stack, *orders))
    today = datetime.now(UTC).date()
    return httpx.get(f"{stack.sandbox.url}/v1/settlements/{today}.csv").text


def upload(stack: Stack, text: str, key: str | None = None, **params: Any) -> httpx.Response:
    headers = {"content-type": "text/csv"}
    if key:
        headers["Idempotency-Key"] = key
    return stack.http.post(
        "/reconciliations", content=text.encode(), headers=headers, params=params
    )


def dry_run(stack: Stack, text: str, **params: Any) -> httpx.Response:
    """POST /reconciliations/dry-run: nothing recorded, no Idempotency-Key."""
    return stack.http.post(
        "/reconciliations/dry-run",
        content=text.encode(),
        headers={"content-type": "text/csv"},
        params=params,
    )


def test_a_forged_line_for_an_order_the_psp_never_charged_stays_an_open_exception(
    stack: Stack, today_file: str
) -> None:
    # An order whose only attempt never reached the PSP (503 before any charge): EXECUTING.
    stack.sandbox.fault(kind="status", status=503, count=1, endpoint="charges")
    executor = stack.executor
    saved = executor.config
    executor.config = dataclasses.replace(saved, backoff_base_s=3600.0, backoff_cap_s=3600.0)
    try:
        [order_id] = place(stack, stack.sandbox.token("success"), ["31.00"])
        executor.feeder.run_once()
        executor.run_once()
    finally:
        executor.config = saved
        stack.sandbox.clear_faults()
    assert stack.order(order_id).status is Status.EXECUTING
    assert stack.sandbox.charges(order_id) == 0
    header, rows = tamper.read_rows(today_file)
    forged = list(rows[tamper.settled_indexes(header, rows)[0]])
    tamper.set_cell(header, forged, "Merchant Reference", order_id)
    tamper.set_cell(header, forged, "Psp Reference", "ch_forged")
    tamper.set_cell(header, forged, "Gross Credit (GC)", "31.00")
    tamper.set_cell(header, forged, "Net Credit (NC)", "31.00")
    tamper.set_cell(header, forged, "Commission (NC)", "")
    answer = upload(stack, tamper.write_rows(header, [forged]), key=f"forged-{uuid.uuid4()}")
    assert answer.status_code == 201, answer.text
    run = stack.services.reconciliations.get_run(answer.json()["run_id"])
    finding = run.findings["line-2"]
    assert (finding.kind, run.state_of("line-2")) == ("status_mismatch", "open")
    assert "has no charge" in run.not_confirmed["line-2"]
    assert run.auto_fixes == {}
    assert stack.order(order_id).status is Status.EXECUTING  # untouched
    assert "Succeeded" not in event_names(stack, order_id)


BAD_FILES = {
    "unknown layout": (lambda text: "date,amount,who\n2025-01-01,1.00,x\n", 1, "date"),
    "missing essential column": (
        lambda text: text.replace("Net Currency", "Net Cur", 1),
        1,
        "Net Currency",
    ),
    "not text": (lambda text: "\x00" + text, 1, ""),
    "truncated": (lambda text: text[: len(text) - len(text.splitlines()[-1]) // 2 - 1], None, None),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_a_bad_file_is_refused_over_http_naming_line_and_column_and_records_nothing(
    stack: Stack, today_file: str, name: str
) -> None:
    damage, line, column = BAD_FILES[name]
    body = damage(today_file)
    before = head(stack)
    answer = stack.http.post(
        "/reconciliations",
        content=body.encode(),
        headers={"content-type": "text/csv", "Idempotency-Key": f"bad-{name}-{uuid.uuid4()}"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    [error] = answer.json()["errors"]
    expected_line = line if line is not None else len(body.splitlines())
    assert error["field"].startswith(f"line {expected_line}, column ")
    if column is not None:
        assert error["field"] == f"line {expected_line}, column {column}"
    assert head(stack) == before


def test_a_bad_file_on_the_command_line_exits_2_with_line_and_column(
    stack: Stack, today_file: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(today_file.replace("Net Currency", "Net Cur", 1))
    before = head(stack)
    result = CliRunner().invoke(main, ["reconcile", str(path)], env=stack.env)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "line 1, column 'Net Currency'" in result.output
    assert "nothing was recorded" in result.output
    assert head(stack) == before
    with pytest.raises(SettlementFormatError):
        stack.services.reconciler.reconcile_path(path)


def test_a_line_that_does_not_parse_is_quarantined_and_the_rest_reconciles(
    stack: Stack, today_file: str
) -> None:
    header, rows = tamper.read_rows(today_file)
    tamper.set_cell(header, rows[0], "Net Credit (NC)", "1e3")
    answer = upload(stack, tamper.write_rows(header, rows), key=f"bad-number-{uuid.uuid4()}")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    classes = {row["class"]: row for row in body["classes"]}
    assert classes["unreadable_line"]["count"] == 1
    assert classes["matched"]["count"] + classes["unreadable_line"]["count"] == len(rows) - 1
    run = stack.services.reconciliations.get_run(body["run_id"])
    finding = run.findings["line-2"]
    assert (finding.column, finding.raw) == (
        "Net Credit (NC)",
        tamper.write_rows([], [rows[0]]).strip(),
    )
    # The batch cannot add up without the line the PSP counted.
    exceptions = [f.kind for f in run.findings.values() if run.state_of(f.finding_id) == "open"]
    assert sorted(exceptions) == ["batch_mismatch", "unreadable_line"]


def test_a_dry_run_classifies_without_recording_and_a_bad_format_is_refused(
    stack: Stack, today_file: str
) -> None:
    before = head(stack)
    answer = dry_run(stack, today_file)
    assert answer.status_code == 200, answer.text
    assert answer.json()["dry_run"] is True
    assert head(stack) == before
    refused = upload(stack, today_file, key="format-1", format="swift")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "format"
    forced = dry_run(stack, today_file, format="stripe")
    assert forced.status_code == 422  # an Adyen file read as Stripe's: no known header
    assert head(stack) == before


def test_exceptions_across_runs_are_filtered_paged_and_resolve_with_their_posting(
    stack: Stack, today_file: str
) -> None:
    header, rows = tamper.read_rows(today_file)
    forged = list(rows[tamper.settled_indexes(header, rows)[0]])
    tamper.set_cell(header, forged, "Merchant Reference", f"po_nobody_{uuid.uuid4().hex[:8]}")
    tamper.set_cell(header, forged, "Psp Reference", "ch_nobody")
    tamper.set_cell(header, forged, "Modification Reference", "ch_nobody")
    net = Decimal(tamper.cell(header, forged, "Net Credit (NC)"))
    gross = Decimal(tamper.cell(header, forged, "Gross Credit (GC)"))
    run_id = upload(stack, tamper.write_rows(header, [forged]), key=f"x-{uuid.uuid4()}").json()[
        "run_id"
    ]
    base = "/reconciliations"
    listed = stack.http.get(f"{base}/exceptions", params={"state": "open", "limit": 1000}).json()
    kinds = {(e["run_id"], e["kind"]) for e in listed["exceptions"]}
    assert (run_id, "missing_internally") in kinds
    assert listed["total"] >= 2  # earlier runs' exceptions are there too
    page = stack.http.get(f"{base}/exceptions", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == listed["total"]
    assert len(page["exceptions"]) == 1
    assert page["exceptions"][0] == listed["exceptions"][1]
    mine = stack.http.get(
        f"{base}/exceptions", params={"run_id": run_id, "kind": "missing_internally"}
    )
    [item] = mine.json()["exceptions"]
    assert item["age_days"] == 0
    assert item["raw"]
    assert stack.http.get(f"{base}/exceptions", params={"state": "nope"}).status_code == 422
    assert stack.http.get(f"{base}/exceptions", params={"limit": "x"}).status_code in (400, 422)

    before = ledger(stack)
    url = f"{base}/{run_id}/exceptions/{item['finding_id']}/resolve"
    refused = stack.http.post(url, json={"action": "mark_duplicate", "reason": "no"})
    assert refused.status_code == 422
    body = {"action": "accept_psp", "reason": "PSP money we did not expect"}
    done = stack.http.post(url, json=body)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "resolved"
    assert done.json()["resolved_by"].startswith("key ")  # the caller's API key
    after = ledger(stack, done.headers.get("event-position"))
    assert after["psp_balance"] - before.get("psp_balance", Decimal(0)) == net
    assert after["write_offs"] - before.get("write_offs", Decimal(0)) == -gross
    summary = stack.http.get(f"{base}/summary").json()
    assert run_id in summary["runs"]
    assert summary["open_exceptions"] >= 1
    assert summary["oldest_open_exception"]["state"] == "open"


def ledger(stack: Stack, position: str | None = None) -> dict[str, Decimal]:
    params = {"min_position": head(stack)}
    for _ in range(50):
        answer = stack.http.get("/ledger/trial-balance", params=params)
        if answer.status_code == 200:
            return {a["account"]: Decimal(a["balance"]) for a in answer.json()["accounts"]}
    raise AssertionError(answer.text)


def test_every_missed_day_is_reconciled_and_a_day_without_a_file_is_reported(
    stack: Stack, today_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    services = stack.services
    today = datetime.now(UTC).date()
    later = today + timedelta(days=3)  # as if the scheduler were down for three days
    days = [today + timedelta(days=offset) for offset in range(3)]
    dead_psp = HttpPspClient(f"http://127.0.0.1:{free_port()}", timeout_s=1, max_connections=1)
    offline = dataclasses.replace(services.reconciler, client=dead_psp)
    with caplog.at_level(logging.WARNING, logger="payments.reconcile"):
        report = offline.backfill(later)
    dead_psp.close()
    assert sorted(report.failed) == days
    assert report.reconciled == []
    named = [r for r in caplog.records if getattr(r, "day", None) == days[0].isoformat()]
    assert named
    assert "SettlementUnavailable" in named[0].reason
    assert offline.days_behind(later) == 3
    statuses = {s.day: s for s in offline.day_statuses(later, 5)}
    assert sorted(statuses) == days  # none before the day of the first event
    assert {s.state for s in statuses.values()} == {"failed"}
    assert "SettlementUnavailable" in statuses[days[0]].detail

    # The scheduler's job, with the PSP back, reconciles the days; the job run says so.
    job = job_by_id(job_dependencies(services), "settlement-reconcile")
    run = run_job(services.pool, job, now=datetime.combine(later, datetime.min.time(), UTC))
    assert run is not None
    assert run.outcome == "ok", run
    assert all(day.isoformat() in run.detail for day in days)
    assert services.reconciler.days_behind(later) == 0
    statuses = {s.day: s for s in services.reconciler.day_statuses(later, 3)}
    assert {statuses[d].state for d in days} == {"reconciled"}
    assert statuses[days[0]].attempts == 2

    result = CliRunner().invoke(
        main, ["reconcile", "status", "--json", "--days", "3"], env=stack.env
    )
    assert result.exit_code == 0, result.output
    assert '"days_behind": 0' in result.output
    table = CliRunner().invoke(main, ["reconcile", "status"], env=stack.env)
    assert table.exit_code == 0
    assert "day(s) behind" in table.output
    metrics = stack.http.get("/metrics").text
    assert "payments_reconciliation_days_behind 0.0" in metrics


def test_the_scheduler_reconciles_missed_days_when_it_starts(stack: Stack) -> None:
    scheduler = build_scheduler(job_dependencies(stack.services))
    scheduler.start()
    try:
        for _ in range(100):
            runs = [r for r in runs_of(stack.services.pool, "settlement-reconcile")
                    if r.tick.startswith("start-") and r.finished_at]  # fmt: skip
            if runs:
                break
            time.sleep(0.1)
    finally:
        scheduler.stop()
    assert runs
    assert runs[0].outcome == "ok", runs


def test_the_command_line_lists_summarises_and_resolves_exceptions(
    stack: Stack, today_file: str, tmp_path: Path
) -> None:
    header, rows = tamper.read_rows(today_file)
    copy = list(rows[tamper.settled_indexes(header, rows)[0]])
    tamper.set_cell(header, copy, "Merchant Reference", "po_cli_nobody")
    tamper.set_cell(header, copy, "Psp Reference", "ch_cli")
    path = tmp_path / "cli.csv"
    path.write_text(tamper.write_rows(header, [copy]))
    made = CliRunner().invoke(main, ["reconcile", str(path), "--json"], env=stack.env)
    assert made.exit_code == 0, made.output
    run_id = made.output.split('"run_id": "')[1].split('"')[0]
    listed = CliRunner().invoke(
        main, ["reconcile", "exceptions", "--kind", "missing_internally", "--json"], env=stack.env
    )
    assert listed.exit_code == 0
    assert run_id in listed.output
    summary = CliRunner().invoke(main, ["reconcile", "summary"], env=stack.env)
    assert summary.exit_code == 0
    assert "open exception(s)" in summary.output
    args = ["reconcile", "resolve", run_id, "line-2", "--action", "investigated", "--reason", "r"]
    resolved = CliRunner().invoke(main, [*args, "--by", "alice"], env=stack.env)
    assert resolved.exit_code == 0, resolved.output
    assert '"resolved_by": "alice"' in resolved.output
    again = CliRunner().invoke(main, [*args, "--by", "bob"], env=stack.env)
    assert again.exit_code == 1
    assert "cannot go from resolved" in again.output


def test_the_exceptions_view_answers_as_the_runs_replayed_do(stack: Stack) -> None:
    """Last in this module, over every run and resolution above: the exceptions and the
    summaries read from the view (now) are those the runs replayed from their events give,
    and the view rebuilds identical from the log."""
    app, pool = stack.services.application, stack.services.pool
    now, replayed = Now(app, pool), Replayed(load_runs(app, pool))
    at = datetime.now(UTC)
    assert replayed.listed(ExceptionQuery(state="all"), at), "the module made exceptions"
    assert replayed.listed(ExceptionQuery(state="resolved"), at), "and resolved some"
    for state in ("open", "auto_fixed", "resolved", "all"):
        query = ExceptionQuery(state=state)
        assert now.listed(query, at) == replayed.listed(query, at), state
    some = replayed.exceptions(ExceptionQuery(state="all"))[0]
    for query in (
        ExceptionQuery(state="all", run_id=some.run_id),
        ExceptionQuery(state="all", kind=some.finding.kind),
        ExceptionQuery(state="all", payment_order_id=some.finding.payment_order_id),
        ExceptionQuery(state="all", run_id="not-a-uuid"),
    ):
        assert now.listed(query, at) == replayed.listed(query, at), query
    counted = {c["class"] for c in now.summary(at.date(), at, "USD")["classes"]}
    assert {"matched", "already_reconciled", "cleared"} <= counted, counted
    for day in (at.date(), at.date() - timedelta(days=1), at.date() - timedelta(days=3)):
        assert now.summary(day, at, "USD") == replayed.summary(day, at, "USD"), day
        assert now.covering_rows(day) == replayed.covering_rows(day), day
    assert now.recent_rows(2) == replayed.recent_rows(2)
    assert now.recent_rows(1000) == replayed.recent_rows(1000)
    rows, count = now.recent_rows(1000)
    assert count == len(rows) > 2
    assert any(row.open_exceptions for row in rows), "open ones counted per run"
    assert [row.open_exceptions for row in rows] == [
        summary(run)["open_exceptions"] for run in replayed.runs
    ], "as each run's own summary counts them"
    source = ApplicationEventSource(app)
    result = verify_projection(pool, source, ReconciliationExceptionsView.name)
    assert result.identical, result
