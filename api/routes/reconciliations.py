"""/reconciliations: upload a PSP settlement file, read runs, exceptions across runs, the
daily summary and which days are reconciled; resolve an exception."""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from payments.api.idempotency import require_key, run_idempotent
from payments.api.problems import FieldProblem, ProblemError, problem_specs
from payments.domain.reconciliation.findings import EXCEPTION_KINDS
from payments.projections.reconciliation.exceptions import (
    STATES,
    ExceptionQuery,
    daily_summary,
    list_exceptions,
    load_runs,
)
from payments.projections.reconciliation.report import (
    finding_view,
    report_csv,
    report_json,
    sorted_findings,
    summary,
)
from payments.psp.settlement import SettlementFormat, SettlementFormatError
from payments.runtime.idempotency import StoredResponse
from payments.runtime.services import Services

CREATE_SCOPE = "POST /reconciliations"
MAX_UPLOAD_BYTES = 1 << 30  # a million-line report is about 200 MiB
CSV_MEDIA_TYPES = ("text/csv", "application/csv", "text/plain")
FORMATS = tuple(f.value for f in SettlementFormat)


class ResolveRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    action: str
    reason: str
    resolved_by: str = "api"  # who decides (the API key's id, once keys exist)


class ExceptionPage(msgspec.Struct, frozen=True):
    total: int
    exceptions: list[dict[str, Any]]
    run_id: str | None = None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "validation",
        "The request is not valid",
        "One or more fields are invalid; see errors.",
        errors=[FieldProblem(field=field, message=message)],
    )


def format_problem(error: SettlementFormatError) -> ProblemError:
    return ProblemError(
        422,
        "settlement-file-invalid",
        "The settlement file cannot be reconciled",
        f"{error}; nothing was recorded.",
        errors=[
            FieldProblem(field=f"line {error.line}, column {error.column}", message=error.message)
        ],
    )


async def _spool_body(request: Request[Any, Any, Any], directory: str) -> tuple[Path, str]:
    """Write the body to a file while hashing it (a large file never sits in memory)."""
    path = Path(directory) / "upload.csv"
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        async for block in request.stream():
            size += len(block)
            if size > MAX_UPLOAD_BYTES:
                raise ProblemError(
                    413,
                    "body-too-large",
                    "The request body is too large",
                    f"settlement files up to {MAX_UPLOAD_BYTES} bytes",
                )
            digest.update(block)
            out.write(block)
    return path, digest.hexdigest()


def _query(
    state: str, kind: str | None, limit: int, offset: int, since: date | None, until: date | None
) -> None:
    if state != "all" and state not in STATES:
        raise _invalid("query.state", "must be open, auto_fixed, resolved or all")
    if kind is not None and kind not in EXCEPTION_KINDS:
        raise _invalid("query.kind", f"must be one of {', '.join(EXCEPTION_KINDS)}")
    if not 1 <= limit <= 1000:
        raise _invalid("query.limit", "must be between 1 and 1000")
    if offset < 0:
        raise _invalid("query.offset", "must be at least 0")
    if since is not None and until is not None and since > until:
        raise _invalid("query.since", "must not be after until")


class ReconciliationsController(Controller):
    path = "/reconciliations"
    tags = ["reconciliation"]

    @post(
        "/",
        summary="Reconcile a PSP settlement file (Adyen, Stripe or PayPal layout)",
        description="Send the file as the body (text/csv) with an Idempotency-Key. The layout "
        "is detected from the header (?format=adyen|stripe|paypal forces one). Answers 201 "
        "with the run's summary, or 200 when this exact file was already reconciled. "
        "?dry_run=true classifies the file and answers 200 with the summary, recording "
        "nothing (no Idempotency-Key needed). A file that cannot be read at all answers 422 "
        "naming line and column, and records nothing.",
        status_code=201,
        request_max_body_size=MAX_UPLOAD_BYTES,
        responses=problem_specs(400, 409, 413, 415, 422),
    )
    async def create_run(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key", required=False, description="Unique per operation"
            ),
        ] = None,
        file_format: Annotated[str | None, QueryParameter(name="format")] = None,
        dry_run: FromQuery[bool] = False,
    ) -> Response[bytes]:
        if file_format is not None and file_format not in FORMATS:
            raise _invalid("query.format", f"must be one of {', '.join(FORMATS)}")
        key = None if dry_run else require_key(idempotency_key)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in CSV_MEDIA_TYPES:
            raise ProblemError(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"send the settlement file as text/csv, not {media_type or 'no content type'}",
            )
        with tempfile.TemporaryDirectory(prefix="payments-upload-") as directory:
            os.chmod(directory, 0o700)
            path, file_sha = await _spool_body(request, directory)

            def reconcile() -> StoredResponse:
                try:
                    outcome = services.reconciler.reconcile_path(
                        path, file_sha=file_sha, file_format=file_format, dry_run=dry_run
                    )
                except SettlementFormatError as error:
                    raise format_problem(error) from None
                body = {**summary(outcome.run), "created": outcome.created, "dry_run": dry_run}
                return StoredResponse(
                    status=201 if outcome.created else 200,
                    body=msgspec.json.encode(body),
                    headers={} if dry_run else {"location": f"/reconciliations/{outcome.run.id}"},
                )

            if key is None:
                answer = await sync_to_thread(reconcile)
                return Response(
                    answer.body, status_code=answer.status, media_type="application/json"
                )
            return await sync_to_thread(
                run_idempotent, services.idempotency, CREATE_SCOPE, key, file_sha, reconcile
            )

    @get(
        "/exceptions",
        summary="Exceptions across every run, oldest first, with their age",
        description="?state=open|auto_fixed|resolved|all (default open), ?kind=, ?run_id=, "
        "?payment_order_id=, ?payout_id=, ?since=YYYY-MM-DD&until=YYYY-MM-DD (when the matter "
        "began), ?limit=1..1000&offset=.",
        sync_to_thread=True,
        responses=problem_specs(400, 422),
    )
    def list_all_exceptions(
        self,
        services: NamedDependency[Services],
        finding_state: Annotated[str, QueryParameter(name="state")] = "open",
        kind: FromQuery[str | None] = None,
        run_id: FromQuery[str | None] = None,
        payment_order_id: FromQuery[str | None] = None,
        payout_id: FromQuery[str | None] = None,
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
        limit: FromQuery[int] = 100,
        offset: FromQuery[int] = 0,
    ) -> ExceptionPage:
        _query(finding_state, kind, limit, offset, since, until)
        query = ExceptionQuery(
            finding_state, kind, run_id, payment_order_id, payout_id, since, until
        )
        runs = load_runs(services.application, services.pool)
        found = list_exceptions(runs, query, datetime.now(UTC))
        return ExceptionPage(total=len(found), exceptions=found[offset : offset + limit])

    @get(
        "/summary",
        summary="The daily summary: counts and amounts per class of the day's runs, and the "
        "open exceptions across all runs (count, amount, the oldest)",
        sync_to_thread=True,
        responses=problem_specs(400),
    )
    def get_daily_summary(
        self, services: NamedDependency[Services], day: FromQuery[date | None] = None
    ) -> Response[bytes]:
        now = datetime.now(UTC)
        runs = load_runs(services.application, services.pool)
        chosen = day or now.date()
        return _json(daily_summary(runs, chosen, now, services.settings.currency))

    @get(
        "/days",
        summary="Each recent day: reconciled, failed (and why) or pending; days behind",
        sync_to_thread=True,
        responses=problem_specs(400, 422),
    )
    def get_days(
        self, services: NamedDependency[Services], days: FromQuery[int] = 14
    ) -> Response[bytes]:
        if not 1 <= days <= 366:
            raise _invalid("query.days", "must be between 1 and 366")
        today = datetime.now(UTC).date()
        reconciler = services.reconciler
        statuses = [status.as_dict() for status in reconciler.day_statuses(today, days)]
        return _json({"days_behind": reconciler.days_behind(today), "days": statuses})

    @get(
        "/{run_id:str}",
        summary="A reconciliation run's summary: counts and amounts per class",
        sync_to_thread=True,
        responses=problem_specs(404),
    )
    def get_run(
        self, run_id: FromPath[str], services: NamedDependency[Services]
    ) -> Response[bytes]:
        return _json(summary(services.reconciliations.get_run(run_id)))

    @get(
        "/{run_id:str}/exceptions",
        summary="The run's exceptions (manual queue); ?state=open|auto_fixed|resolved|all",
        sync_to_thread=True,
        responses=problem_specs(404, 422),
    )
    def list_exceptions(
        self,
        run_id: FromPath[str],
        services: NamedDependency[Services],
        finding_state: Annotated[str, QueryParameter(name="state")] = "open",
        limit: FromQuery[int] = 100,
        offset: FromQuery[int] = 0,
    ) -> ExceptionPage:
        _query(finding_state, None, limit, offset, None, None)
        run = services.reconciliations.get_run(run_id)
        query = ExceptionQuery(state=finding_state)
        chosen = [finding for finding in sorted_findings(run) if query.wants(run, finding)]
        page = [finding_view(run, finding) for finding in chosen[offset : offset + limit]]
        return ExceptionPage(run_id=str(run.id), total=len(chosen), exceptions=page)

    @post(
        "/{run_id:str}/exceptions/{finding_id:str}/resolve",
        summary="Record a person's decision on an open exception, posting its adjustment",
        description="Body {action, reason, resolved_by}; action is accept_psp (post the PSP's "
        "figure, the difference to write_offs), write_off (the same, never a seller's balance), "
        "accept_ours, mark_duplicate (duplicates only) or investigated (these three post "
        "nothing). A second resolution of the same exception answers 409.",
        status_code=200,
        sync_to_thread=True,
        responses=problem_specs(404, 409, 422),
    )
    def resolve(
        self,
        run_id: FromPath[str],
        finding_id: FromPath[str],
        data: JSONBody[ResolveRequest],
        services: NamedDependency[Services],
    ) -> Response[bytes]:
        run = services.reconciliations.resolve(
            run_id, finding_id, data.action, data.reason, data.resolved_by
        )
        return _json(finding_view(run, run.findings[finding_id]))

    @get(
        "/{run_id:str}/report.csv",
        summary="The full report as CSV (deterministic)",
        sync_to_thread=True,
        responses=problem_specs(404),
    )
    def get_report_csv(
        self, run_id: FromPath[str], services: NamedDependency[Services]
    ) -> Response[bytes]:
        run = services.reconciliations.get_run(run_id)
        return Response(
            content=report_csv(run),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="reconciliation-{run.id}.csv"'},
        )

    @get(
        "/{run_id:str}/report.json",
        summary="The full report as JSON (deterministic)",
        sync_to_thread=True,
        responses=problem_specs(404),
    )
    def get_report_json(
        self, run_id: FromPath[str], services: NamedDependency[Services]
    ) -> Response[bytes]:
        return Response(
            content=report_json(services.reconciliations.get_run(run_id)),
            media_type="application/json",
        )
