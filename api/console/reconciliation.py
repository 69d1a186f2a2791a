"""Reconciliation: each recent day (reconciled, failed and why, pending) with the runs whose
file covers it, the chosen day's summary, every run, and the open exceptions with their age;
finance uploads a settlement file here. The same reads as GET /reconciliations/days,
/summary and /exceptions, and the same reconciling as POST /reconciliations; as of a past
instant, the runs replayed to then (the days' table is kept for now only: it is no event)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from litestar import Request, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template

from payments.api.console.forms import confirmed
from payments.api.console.pages import CallerDep, Field, Page, ServicesDep, as_of_of, render
from payments.api.reads import invalid
from payments.api.reconciliation_parameters import DATE_PATTERN
from payments.api.settlement_upload import Spool, private_directory, reconcile_spooled
from payments.domain.api_key import Role
from payments.projections.reconciliation.exceptions import (
    AcrossRuns,
    ExceptionQuery,
    across_runs,
)
from payments.psp.reconcile.engine import RunOutcome
from payments.psp.settlement import SettlementFormat
from payments.runtime.services import Services

PAGE = Page.of("/console/reconciliation", "Reconciliation", Role.FINANCE)
DAYS_SHOWN, RUNS_SHOWN, EXCEPTIONS_SHOWN = 14, 100, 100
# The console's form holds the file in a temporary file while it arrives: larger files go
# through POST /reconciliations or `payments reconcile`, which stream up to 1 GiB.
MAX_FORM_UPLOAD_BYTES = 32 << 20
FORMATS = tuple(layout.value for layout in SettlementFormat)
COPY_BLOCK = 1 << 20


def run_path(run_id: str) -> str:
    return f"{PAGE.path}/{run_id}"


def day_chosen(text: str, default: date) -> date:
    """The summary's day: YYYY-MM-DD (what a browser's date field sends), empty for `default`."""
    if not text:
        return default
    try:
        if re.fullmatch(DATE_PATTERN, text, re.ASCII):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise invalid("day", f"{text!r} is not a day (YYYY-MM-DD)")


def day_rows(services: Services, reads: AcrossRuns, at: datetime) -> list[dict[str, Any]]:
    """The recent days as GET /reconciliations/days answers them, each with the runs whose
    file covers it and their lines, as GET /reconciliations/summary?day= answers them."""
    days = []
    for status in services.reconciler.day_statuses(at.date(), DAYS_SHOWN):
        covering = reads.covering_rows(status.day)  # rows of the view: no run is loaded
        runs = [row.run_id for row in covering]
        days.append({"status": status, "runs": runs, "lines": sum(r.lines for r in covering)})
    return days


@get("/reconciliation", sync_to_thread=True, **PAGE.access)
def reconciliation_page(
    caller: CallerDep, services: ServicesDep, day: Field = None, as_of: Field = None
) -> Template:
    instant = as_of_of(as_of)
    at = instant or datetime.now(UTC)
    chosen = day_chosen((day or "").strip(), at.date())
    reads = across_runs(services.application, services.pool, instant)
    backlog = reads.listed(ExceptionQuery(state="open"), at)
    runs, run_count = reads.recent_rows(RUNS_SHOWN)
    return render(
        "reconciliation.html",
        caller,
        PAGE,
        as_of=instant,
        day=chosen.isoformat(),
        day_asked=(day or "").strip(),  # kept by the as-of control only when chosen
        summary=reads.summary(chosen, at, services.settings.currency),
        days=None if instant else day_rows(services, reads, at),
        days_behind=None if instant else services.reconciler.days_behind(at.date()),
        runs=runs[::-1],
        run_count=run_count,
        exceptions=backlog[:EXCEPTIONS_SHOWN],
        exception_count=len(backlog),
        run_path=run_path,
        formats=FORMATS,
        max_upload_mib=MAX_FORM_UPLOAD_BYTES >> 20,
    )


def _spool_upload(upload: UploadFile, directory: str) -> tuple[Path, str]:
    spool = Spool(directory, MAX_FORM_UPLOAD_BYTES)
    with spool.path.open("wb") as out:
        while block := upload.file.read(COPY_BLOCK):
            spool.write(out, block)
    return spool.path, spool.sha256()


@post(
    "/reconciliation/upload",
    request_max_body_size=MAX_FORM_UPLOAD_BYTES + (64 << 10),  # the file and the form's fields
    **PAGE.access,
)
async def upload(request: Request[Any, Any, Any], services: ServicesDep) -> Redirect:
    form = await request.form()  # parsed already by the CSRF check, the file spooled
    confirmed(str(form.get("confirm", "")), "the upload")
    file_format = str(form.get("file_format", "")).strip() or None
    if file_format is not None and file_format not in FORMATS:
        raise invalid("file_format", f"one of {', '.join(FORMATS)}, or empty to detect it")
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        raise invalid("file", "choose the settlement file to upload")

    def reconcile() -> RunOutcome:
        with private_directory() as directory:
            path, file_sha = _spool_upload(file, directory)
            return reconcile_spooled(services, path, file_sha, file_format, dry_run=False)

    try:
        outcome = await sync_to_thread(reconcile)
    finally:
        await file.close()
    done = "reconciled" if outcome.created else "known"
    return Redirect(f"{run_path(str(outcome.run.id))}?done={done}", status_code=303)


HANDLERS = [reconciliation_page, upload]
