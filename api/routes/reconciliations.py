"""/reconciliations: upload a PSP settlement file, read the run, its exceptions and reports."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from payments.api.auth import access
from payments.api.idempotency import idempotency_key_guard, require_key, run_idempotent
from payments.api.openapi import operation, raw_body, success
from payments.api.parameters import IdempotencyKeyHeader
from payments.api.problems import FieldProblem, ProblemError, problem_specs
from payments.domain.api_key import Role
from payments.domain.reconciliation_run import AUTO_FIX, AUTO_FIXED, INFO, OPEN, RESOLVED
from payments.projections.reconciliation.report import (
    finding_view,
    report_csv,
    report_json,
    sorted_findings,
    summary,
)
from payments.psp.settlement import SettlementFormatError
from payments.runtime.idempotency import StoredResponse
from payments.runtime.keys import Caller
from payments.runtime.services import Services

CREATE_SCOPE = "POST /reconciliations"
MAX_UPLOAD_BYTES = 1 << 30  # a million-line report is about 200 MiB
CSV_MEDIA_TYPES = ("text/csv", "application/csv", "text/plain")
EXCEPTION_STATES = {"open": (OPEN, AUTO_FIX), "auto_fixed": (AUTO_FIXED,), "resolved": (RESOLVED,)}


# Any other value than a run's UUID answers 404, as before this declaration.
RunIdPath = Annotated[
    str,
    PathParameter(description="The run's id, a UUID.", schema_extra={"format": "uuid"}),
]
FindingIdPath = Annotated[
    str, PathParameter(pattern=r"^[A-Za-z0-9_.:-]+$", min_length=1, max_length=160)
]
_CSV_BODY = raw_body(CSV_MEDIA_TYPES, "The settlement file, as the PSP wrote it")


class ResolveRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    action: str
    reason: str


class ExceptionPage(msgspec.Struct, frozen=True):
    run_id: str
    total: int
    exceptions: list[dict[str, Any]]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
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


class ReconciliationsController(Controller):
    path = "/reconciliations"
    tags = ["reconciliation"]

    @post(
        "/",
        operation_id="createReconciliation",
        summary="Reconcile a PSP settlement file (Adyen settlement details CSV)",
        description="Send the file as the body (text/csv) with an Idempotency-Key. Answers 201 "
        "with the run's summary, or 200 when this exact file was already reconciled. A bad "
        "file answers 422 naming line and column, and records nothing.",
        status_code=201,
        request_max_body_size=MAX_UPLOAD_BYTES,
        before_request=idempotency_key_guard,
        responses={
            201: success(dict[str, Any], "Created: the run's summary"),
            200: success(dict[str, Any], "This exact file was already reconciled"),
            **problem_specs(409, 413, 415, 422),
        },
        operation_class=operation(request_body=_CSV_BODY),
        **access(Role.FINANCE),
    )
    async def create_run(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        caller: NamedDependency[Caller],
        idempotency_key: IdempotencyKeyHeader,
    ) -> Response[bytes]:
        key = require_key(idempotency_key)
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
                    outcome = services.reconciler.reconcile_path(path, file_sha=file_sha)
                except SettlementFormatError as error:
                    raise format_problem(error) from None
                return StoredResponse(
                    status=201 if outcome.created else 200,
                    body=msgspec.json.encode({**summary(outcome.run), "created": outcome.created}),
                    headers={"location": f"/reconciliations/{outcome.run.id}"},
                )

            return await sync_to_thread(
                run_idempotent,
                services.idempotency,
                caller,
                CREATE_SCOPE,
                key,
                file_sha,
                reconcile,
            )

    @get(
        "/{run_id:str}",
        operation_id="getReconciliation",
        summary="A reconciliation run's summary: counts and amounts per class",
        sync_to_thread=True,
        responses={200: success(dict[str, Any], "The run's summary"), **problem_specs(404, 422)},
        **access(Role.FINANCE),
    )
    def get_run(self, run_id: RunIdPath, services: NamedDependency[Services]) -> Response[bytes]:
        return _json(summary(services.reconciliations.get_run(run_id)))

    @get(
        "/{run_id:str}/exceptions",
        operation_id="listReconciliationExceptions",
        summary="The run's exceptions (manual queue); ?state=open|auto_fixed|resolved|all",
        sync_to_thread=True,
        responses=problem_specs(404, 422),
        **access(Role.FINANCE),
    )
    def list_exceptions(
        self,
        run_id: RunIdPath,
        services: NamedDependency[Services],
        finding_state: Annotated[
            Literal["open", "auto_fixed", "resolved", "all"], QueryParameter(name="state")
        ] = "open",
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=2**31 - 1)] = 0,
    ) -> ExceptionPage:
        if finding_state != "all" and finding_state not in EXCEPTION_STATES:
            raise ProblemError(
                422,
                "validation",
                "The request is not valid",
                "state must be open, auto_fixed, resolved or all",
                errors=[FieldProblem(field="query.state", message="unknown state")],
            )
        if not 1 <= limit <= 1000 or offset < 0:
            raise ProblemError(
                422,
                "validation",
                "The request is not valid",
                "limit must be 1..1000 and offset at least 0",
                errors=[FieldProblem(field="query.limit", message="out of range")],
            )
        run = services.reconciliations.get_run(run_id)
        wanted = EXCEPTION_STATES.get(finding_state)
        chosen = [
            finding
            for finding in sorted_findings(run)
            if finding.state != INFO
            and (wanted is None or run.state_of(finding.finding_id) in wanted)
        ]
        page = [finding_view(run, finding) for finding in chosen[offset : offset + limit]]
        return ExceptionPage(run_id=str(run.id), total=len(chosen), exceptions=page)

    @post(
        "/{run_id:str}/exceptions/{finding_id:str}/resolve",
        operation_id="resolveReconciliationException",
        summary="Record an operator's decision on an open exception",
        description="Body {action, reason}; action is accept_psp, accept_ours, write_off or "
        "investigated. A second resolution of the same exception answers 409.",
        status_code=200,
        sync_to_thread=True,
        responses={
            200: success(dict[str, Any], "The exception, resolved"),
            **problem_specs(404, 409, 413, 422),
        },
        **access(Role.FINANCE),
    )
    def resolve(
        self,
        run_id: RunIdPath,
        finding_id: FindingIdPath,
        data: JSONBody[ResolveRequest],
        services: NamedDependency[Services],
    ) -> Response[bytes]:
        run = services.reconciliations.resolve(run_id, finding_id, data.action, data.reason)
        return _json(finding_view(run, run.findings[finding_id]))

    @get(
        "/{run_id:str}/report.csv",
        operation_id="getReconciliationReportCsv",
        summary="The full report as CSV (deterministic)",
        sync_to_thread=True,
        responses={
            200: success(str, "The report", media_type="text/csv; charset=utf-8"),
            **problem_specs(404, 422),
        },
        **access(Role.FINANCE),
    )
    def get_report_csv(
        self, run_id: RunIdPath, services: NamedDependency[Services]
    ) -> Response[bytes]:
        run = services.reconciliations.get_run(run_id)
        return Response(
            content=report_csv(run),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="reconciliation-{run.id}.csv"'},
        )

    @get(
        "/{run_id:str}/report.json",
        operation_id="getReconciliationReportJson",
        summary="The full report as JSON (deterministic)",
        sync_to_thread=True,
        responses={200: success(dict[str, Any], "The report"), **problem_specs(404, 422)},
        **access(Role.FINANCE),
    )
    def get_report_json(
        self, run_id: RunIdPath, services: NamedDependency[Services]
    ) -> Response[bytes]:
        return Response(
            content=report_json(services.reconciliations.get_run(run_id)),
            media_type="application/json",
        )
