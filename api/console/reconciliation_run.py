"""One reconciliation run: its summary (classes, batches, fees) and its findings, 100 a page,
each with its state, amounts and resolution; its reports (CSV, JSON); and finance's confirmed
resolution of an open exception with a reason, recorded with the key id. The same reads and
command as GET /reconciliations/{id}, its report.csv / report.json, and POST
/reconciliations/{id}/exceptions/{finding_id}/resolve; as of a past instant, the run replayed
to then, with the resolution withheld."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec
from litestar import Response, get, post
from litestar.response import Redirect, Template

from payments.api.console.forms import FormBody, as_json_body, confirmed
from payments.api.console.pages import CallerDep, Field, ServicesDep, as_of_of, render
from payments.api.console.reconciliation import PAGE, run_path
from payments.api.reads import invalid, not_found
from payments.api.reconciliation_parameters import FindingIdPath, RunIdPath
from payments.api.routes.reconciliations import ResolveRequest, csv_report, resolve_exception
from payments.domain.reconciliation.findings import EXCEPTION_KINDS
from payments.domain.reconciliation.resolutions import RESOLUTION_ACTIONS
from payments.domain.reconciliation_run import OPEN, ReconciliationRun
from payments.projections.event_store import load_aggregates
from payments.projections.reconciliation.report import (
    finding_view,
    report_json,
    sorted_findings,
    summary,
)
from payments.runtime.services import Services

PAGE_SIZE = 100
DONE = {
    "reconciled": "Reconciled: this is the file's run.",
    "known": "This exact file was reconciled already: this is its run, nothing was recorded.",
    "resolved": "Resolved {finding}: the decision is recorded with your key id.",
}


class ResolveForm(msgspec.Struct, frozen=True):
    action: str = ""
    reason: str = ""
    confirm: str = ""


def run_of(services: Services, run_id: str, as_of: datetime | None) -> ReconciliationRun:
    """The run now, or replayed to `as_of` from its events (Not found if recorded later)."""
    if as_of is None:
        return services.reconciliations.get_run(run_id)
    try:
        aggregate_id = UUID(run_id)
    except ValueError:
        raise not_found(f"reconciliation run {run_id!r}") from None
    found = load_aggregates(services.application, services.pool, [aggregate_id], as_of)
    run = found.get(aggregate_id)
    if not isinstance(run, ReconciliationRun):
        raise not_found(f"reconciliation run {run_id!r} as of {as_of.isoformat()}")
    return run


def offset_of(text: str | None) -> int:
    if text is None or not text.strip():
        return 0
    if not text.strip().isdigit() or int(text) > 2**31 - 1:
        raise invalid("offset", "a whole number of findings to skip")
    return int(text)


@get("/reconciliation/{run_id:str}", sync_to_thread=True, **PAGE.access)
def run_page(
    run_id: RunIdPath,
    caller: CallerDep,
    services: ServicesDep,
    offset: Field = None,
    as_of: Field = None,
    done: Field = None,
    finding: Field = None,
) -> Template:
    instant = as_of_of(as_of)
    run = run_of(services, run_id, instant)
    start = offset_of(offset)
    findings = sorted_findings(run)
    at = instant or datetime.now(UTC)  # ages as the exceptions' list counts them
    shown = [finding_view(run, f, at) for f in findings[start : start + PAGE_SIZE]]
    message = DONE.get(done or "")
    if done == "resolved":
        message = DONE["resolved"].format(finding=finding) if finding in run.findings else None
    return render(
        "reconciliation_run.html",
        caller,
        PAGE,
        as_of=instant,
        title=f"Run {run.id}",
        path=run_path(str(run.id)),
        run=summary(run),
        findings=shown,
        total=len(findings),
        first=start + 1,
        previous=max(0, start - PAGE_SIZE) if start else None,
        next=start + PAGE_SIZE if start + PAGE_SIZE < len(findings) else None,
        resolvable={
            view["finding_id"]
            for view in shown
            if instant is None and view["state"] == OPEN and view["kind"] in EXCEPTION_KINDS
        },
        actions=RESOLUTION_ACTIONS,
        done=message,
    )


@get("/reconciliation/{run_id:str}/report.csv", sync_to_thread=True, **PAGE.access)
def run_report_csv(run_id: RunIdPath, services: ServicesDep) -> Response[bytes]:
    return csv_report(services.reconciliations.get_run(run_id))


@get("/reconciliation/{run_id:str}/report.json", sync_to_thread=True, **PAGE.access)
def run_report_json(run_id: RunIdPath, services: ServicesDep) -> Response[bytes]:
    run = services.reconciliations.get_run(run_id)
    return Response(report_json(run), media_type="application/json")


@post(
    "/reconciliation/{run_id:str}/exceptions/{finding_id:str}/resolve",
    sync_to_thread=True,
    **PAGE.access,
)
def resolve(
    run_id: RunIdPath,
    finding_id: FindingIdPath,
    data: FormBody[ResolveForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    confirmed(data.confirm, f"your decision on {finding_id}")
    if not data.reason.strip():
        raise invalid("reason", "give the reason for your decision")
    decision = as_json_body(
        ResolveRequest, "resolution", action=data.action.strip(), reason=data.reason.strip()
    )
    run = resolve_exception(services, run_id, finding_id, decision, caller)
    return Redirect(
        f"{run_path(str(run.id))}?done=resolved&finding={finding_id}#finding-{finding_id}",
        status_code=303,
    )


HANDLERS = [run_page, run_report_csv, run_report_json, resolve]
