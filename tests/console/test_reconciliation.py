"""Reconciliation in the browser: finance uploads the sandbox's settlement file of the day with
one amount changed, sees the run and its amount mismatch among the open exceptions, resolves it
with a reason (recorded with the key id) and sees it resolved, and as of before the decision
open again; files that cannot be reconciled give an error page and record nothing; the pages
and their forms are finance's only, and a form without its CSRF token is refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from payments.api.console.reconciliation import MAX_FORM_UPLOAD_BYTES
from payments.domain.api_key import Role
from tests.console.conftest import Console, csrf, follow, refuses_forged_reason_forms, screenshot
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.reconciliation import tamper


def head(stack: Stack) -> int:
    return int(stack.services.application.recorder.max_notification_id() or 0)


@pytest.fixture(scope="module")
def todays_file(console: Console) -> str:
    """The sandbox's settlement file of today, after two charges of this module."""
    stack = console.stack
    orders = place(stack, stack.sandbox.token("success"), ["21.00", "34.50"])
    stack.settle(lambda: terminal(stack, *orders))
    return httpx.get(f"{stack.sandbox.url}/v1/settlements/{datetime.now(UTC).date()}.csv").text


def shift_payout(header: list[str], rows: tamper.Rows, amount: str) -> None:
    tamper.add_amount(header, tamper.payout_row(header, rows), "Net Debit (NC)", Decimal(amount))


@pytest.fixture(scope="module")
def mismatched(todays_file: str) -> tuple[bytes, str]:
    """Today's file with its first settled line 1.00 higher than the charge (and the payout
    with it): the file, and the finding it makes (`line-N`)."""
    header, rows = tamper.read_rows(todays_file)
    index = tamper.settled_indexes(header, rows)[0]
    for column in ("Gross Credit (GC)", "Net Credit (NC)"):
        tamper.add_amount(header, rows[index], column, Decimal("1.00"))
    shift_payout(header, rows, "1.00")
    return tamper.write_rows(header, rows).encode(), f"line-{index + 2}"  # line 1: the header


def upload(page: Any, name: str, content: bytes) -> None:
    page.goto("/console/reconciliation")
    page.locator("input#file").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_label("I confirm: reconcile this file").check()
    follow(page.get_by_role("button", name="Reconcile file"))


def test_finance_uploads_a_file_sees_its_exception_and_resolves_it(
    console: Console, mismatched: tuple[bytes, str]
) -> None:
    stack = console.stack
    content, finding_id = mismatched
    page = console.signed_in(Role.FINANCE)
    follow(page.get_by_role("link", name="Reconciliation"))
    assert page.get_by_role("heading", level=1).inner_text() == "Reconciliation"
    assert page.locator("#days").count() == 1, "which days are reconciled, now"
    before_upload = datetime.now(UTC)

    upload(page, "settlement.csv", content)
    assert page.get_by_role("status").inner_text().startswith("Reconciled")
    run_id = page.get_by_role("heading", level=1).inner_text().removeprefix("Run ")
    row = page.locator(f"[id='finding-{finding_id}']")
    assert row.locator("td").nth(0).inner_text() == "amount_mismatch"
    assert row.locator("[data-state]").inner_text() == "open"
    assert page.locator("#run-open").inner_text() == "1"

    page.goto("/console")
    assert page.locator("[data-figure='open-exceptions']").inner_text() == "1"
    follow(page.locator("#t-recon").locator("..").get_by_role("link", name="See them"))
    listed = page.locator(f"[id='exception-{run_id}-{finding_id}']")
    assert "amount_mismatch" in listed.inner_text()
    assert listed.locator("td").nth(1).inner_text() == "0", "its age in days"
    assert page.locator(f"#run-{run_id}").count() == 1
    screenshot(page, "reconciliation")

    listed.get_by_role("link", name=finding_id).click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Run {run_id}"
    path = f"{console.url}/reconciliation/{run_id}/exceptions/{finding_id}/resolve"
    refuses_forged_reason_forms(page, path)
    assert stack.services.reconciliations.get_run(run_id).state_of(finding_id) == "open"

    time.sleep(0.01)
    before_decision = datetime.now(UTC)
    page.get_by_label(f"Action for {finding_id}").select_option("accept_psp")
    page.get_by_label(f"Reason for {finding_id}").fill("PSP confirmed 1.00 more, FIN-7")
    page.get_by_label(f"I confirm my decision on {finding_id}").check()
    page.locator(f"[id='finding-{finding_id}']").get_by_role("button", name="Resolve").click()
    assert page.get_by_role("status").inner_text().startswith(f"Resolved {finding_id}")
    row = page.locator(f"[id='finding-{finding_id}']")
    assert row.locator("[data-state]").inner_text() == "resolved"
    key_id = page.locator(".who code").inner_text()
    assert f"by key {key_id}" in row.inner_text()
    screenshot(page, "reconciliation-run")
    run = stack.services.reconciliations.get_run(run_id)
    resolution = run.resolutions[finding_id]
    assert (resolution.action, resolution.resolved_by) == ("accept_psp", f"key {key_id}")
    assert resolution.entries, "accept_psp posts the adjustment"

    report = page.request.get(f"{console.url}/reconciliation/{run_id}/report.csv")
    assert report.status == 200
    assert f"{finding_id},amount_mismatch,resolved" in report.text()
    again = page.request.post(path, form={"action": "investigated", "reason": "twice",
                                           "confirm": "yes"},
                              headers={"x-csrf-token": csrf(page), "accept": "text/html"})  # fmt: skip
    assert again.status == 409, "resolved already"

    # As of before the decision the run is replayed: the exception is open, no form offered;
    # as of before the upload there was no run.
    page.goto(f"/console/reconciliation/{run_id}?as_of={before_decision:%Y-%m-%dT%H:%M:%S.%f}")
    assert "Past view" in page.get_by_role("status").first.inner_text()
    row = page.locator(f"[id='finding-{finding_id}']")
    assert row.locator("[data-state]").inner_text() == "open"
    assert row.locator("form").count() == 0
    page.goto(f"/console?as_of={before_decision:%Y-%m-%dT%H:%M:%S.%f}")
    assert page.locator("[data-figure='open-exceptions']").inner_text() == "1", "open then"
    page.goto(f"/console?as_of={before_upload:%Y-%m-%dT%H:%M:%S.%f}")
    assert page.locator("[data-figure='open-exceptions']").inner_text() == "0", "no run yet"
    page.goto(f"/console/reconciliation?as_of={before_upload:%Y-%m-%dT%H:%M:%S.%f}")
    assert page.locator(f"#run-{run_id}").count() == 0
    assert page.locator("#days").count() == 0, "the days' table is not kept as events"

    # The same file again is the same run, and records nothing.
    written = head(stack)
    upload(page, "settlement-again.csv", content)
    assert page.get_by_role("status").inner_text().startswith("This exact file")
    assert page.get_by_role("heading", level=1).inner_text() == f"Run {run_id}"
    assert head(stack) == written


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("empty.csv", b"", "empty file"),
        ("notes.csv", b"hello,world\n1,2\n", "header"),
        ("picture.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "UTF-8"),
    ],
)
def test_a_file_that_cannot_be_reconciled_gives_an_error_page_and_records_nothing(
    console: Console, name: str, content: bytes, says: str
) -> None:
    page = console.signed_in(Role.FINANCE)
    written = head(console.stack)
    upload(page, name, content)
    assert page.get_by_role("heading", level=1).inner_text() == "That input is not valid"
    assert says in page.content()
    assert "nothing was recorded" in page.content()
    assert head(console.stack) == written


def test_a_file_too_large_or_missing_or_unconfirmed_is_refused(console: Console) -> None:
    page = console.signed_in(Role.FINANCE)
    page.goto("/console/reconciliation")
    written = head(console.stack)
    token, html = {"x-csrf-token": csrf(page)}, {"accept": "text/html"}
    action = f"{console.url}/reconciliation/upload"
    # Sent by httpx with the browser's cookies: Playwright would pass 32 MiB through its driver.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    big = ("big.csv", b"x" * (MAX_FORM_UPLOAD_BYTES + 1), "text/csv")
    # The token in the form, as a browser sends it: the CSRF check reads the form first.
    fields = {"confirm": "yes", "_csrf_token": token["x-csrf-token"]}
    too_big = httpx.post(action, files={"file": big}, data=fields, headers=html, cookies=cookies)
    assert (too_big.status_code, "larger than this form takes" in too_big.text) == (413, True)
    small = {"name": "s.csv", "mimeType": "text/csv", "buffer": b"a,b\n"}
    unconfirmed = page.request.post(action, multipart={"file": small}, headers={**token, **html})
    assert (unconfirmed.status, "tick the box" in unconfirmed.text()) == (422, True)
    no_file = page.request.post(action, multipart={"confirm": "yes"}, headers={**token, **html})
    assert (no_file.status, "choose the settlement file" in no_file.text()) == (422, True)
    no_csrf = page.request.post(action, multipart={"file": small, "confirm": "yes"}, headers=html)
    assert (no_csrf.status, "CSRF" in no_csrf.text()) == (403, True)
    assert head(console.stack) == written


def test_reconciliation_is_finances_page(console: Console, mismatched: tuple[bytes, str]) -> None:
    finance = console.signed_in(Role.FINANCE)
    upload(finance, "settlement.csv", mismatched[0])
    run_path = finance.url.split("?")[0].removeprefix(console.stack.api_url)
    for role in (Role.MERCHANT, Role.OPERATOR):
        page = console.signed_in(role)
        assert "Reconciliation" not in [a.inner_text() for a in page.locator("nav a").all()]
        for path in ("/console/reconciliation", run_path, f"{run_path}/report.csv"):
            answer = page.request.get(path, headers={"accept": "text/html"})
            assert answer.status == 403, path
        page.goto("/console/reconciliation")
        assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"
        refused = page.request.post(
            f"{console.url}/reconciliation/upload",
            multipart={"file": {"name": "s.csv", "mimeType": "text/csv", "buffer": b"a\n"},
                       "confirm": "yes"},
            headers={"x-csrf-token": csrf(page)},
        )  # fmt: skip
        assert refused.status == 403


def test_the_summary_is_of_the_chosen_day(console: Console, mismatched: tuple[bytes, str]) -> None:
    page = console.signed_in(Role.FINANCE)
    upload(page, "settlement.csv", mismatched[0])
    page.goto("/console/reconciliation")
    today = datetime.now(UTC).date().isoformat()
    assert page.get_by_role("heading", name=f"Summary of {today}").count() == 1
    assert "amount_mismatch" in page.locator("#summary").inner_text()
    page.get_by_label("Day (UTC)").fill("2020-01-31")
    follow(page.get_by_role("button", name="Show day"))
    assert page.get_by_role("heading", name="Summary of 2020-01-31").count() == 1
    assert page.locator("#summary tbody").inner_text() == "No run covers this day."
    page.goto("/console/reconciliation?day=2026-02-30")
    assert page.get_by_role("heading", level=1).inner_text() == "That input is not valid"
    assert "'2026-02-30' is not a day" in page.locator("main").inner_text()


def test_a_runs_findings_are_paged(console: Console, todays_file: str) -> None:
    header, rows = tamper.read_rows(todays_file)
    model = rows[tamper.settled_indexes(header, rows)[0]]
    for n in range(105):  # lines for charges we never took: one finding each
        copy = list(model)
        tamper.set_cell(header, copy, "Merchant Reference", f"order_never_taken_{n}")
        tamper.set_cell(header, copy, "Psp Reference", f"ch_unknown_{n}")
        rows.insert(0, copy)
        shift_payout(header, rows, tamper.cell(header, copy, "Net Credit (NC)"))
    page = console.signed_in(Role.FINANCE)
    upload(page, "many.csv", tamper.write_rows(header, rows).encode())
    total = int(page.locator("#h-findings").inner_text().split("(")[1].rstrip(")"))
    assert total >= 105
    assert page.locator("#findings tbody tr").count() == 100
    assert page.locator("[id='finding-line-2'] td").nth(0).inner_text() == "missing_internally"
    follow(page.get_by_role("link", name="Next page"))
    assert page.locator("#findings tbody tr").count() == total - 100
    assert f"101 to {total} of {total}" in page.locator("main").inner_text()
    follow(page.get_by_role("link", name="Previous page"))
    assert page.locator("[id='finding-line-2']").count() == 1
