"""/reconciliations: upload a PSP settlement file (or try one: a dry run), read runs, the
exceptions across runs, the daily summary and which days are reconciled; resolve an
exception."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter

from payments.api.auth import access
from payments.api.idempotency import OnceDep, idempotency_key_guard, stored_answer
from payments.api.openapi import created_or_existing, operation, raw_body, spec, success
from payments.api.parameters import CallerDep, ServicesDep
from payments.api.problems import ProblemError, problem_specs
from payments.api.reconciliation_parameters import (
    DayQuery,
    FindingIdPath,
    FormatQuery,
    IdQuery,
    KindQuery,
    LimitQuery,
    OffsetQuery,
    RunIdPath,
    SinceQuery,
    StateQuery,
    UntilQuery,
    UuidQuery,
    day_of,
)
from payments.api.schemas import LongReason
from payments.api.settlement_upload import (
    CSV_MEDIA_TYPES,
    MAX_UPLOAD_BYTES,
    reconcile_spooled,
    spooled_csv,
)
from payments.domain.api_key import Role
from payments.domain.reconciliation.resolutions import RESOLUTION_ACTIONS
from payments.domain.reconciliation_run import ReconciliationRun
from payments.projections.reconciliation.exceptions import (
    ExceptionQuery,
    across_runs,
)
from payments.projections.reconciliation.report import (
    FindingAt,
    finding_view,
    report_csv,
    report_json,
    sorted_findings,
    summary,
)
from payments.psp.answers import BalanceUnavailable
from payments.psp.reconcile.balance import NoPspConfigured
from payments.psp.reconcile.engine import RunOutcome
from payments.runtime.idempotency import StoredResponse
from payments.runtime.keys import Caller
from payments.runtime.services import Services

CREATE_SCOPE = "POST /reconciliations"
_CSV_BODY = raw_body(CSV_MEDIA_TYPES, "The settlement file, as the PSP wrote it")


class ResolveRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    action: Annotated[
        str,
        msgspec.Meta(
            pattern=f"^({'|'.join(RESOLUTION_ACTIONS)})$",
            description="accept_psp or write_off (post the adjustment), accept_ours, "
            "mark_duplicate or investigated (post nothing).",
        ),
    ]
    reason: LongReason


class ExceptionPage(msgspec.Struct, frozen=True):
    total: int
    exceptions: list[dict[str, Any]]
    run_id: str | None = None


def _summary(outcome: RunOutcome, dry_run: bool = False) -> dict[str, Any]:
    return {**summary(outcome.run), "created": outcome.created, "dry_run": dry_run}


def resolve_exception(
    services: Services, run_id: str, finding_id: str, decision: ResolveRequest, caller: Caller
) -> ReconciliationRun:
    """Record a person's decision on an open exception, with who decided: the caller's key."""
    return services.reconciliations.resolve(
        run_id, finding_id, decision.action, decision.reason, f"key {caller.key_id}"
    )


def _json_bytes(content: bytes) -> Response[bytes]:
    return Response(content=content, status_code=200, media_type="application/json")


def _json(body: Any) -> Response[bytes]:
    return _json_bytes(msgspec.json.encode(body))


def run_spec(operation_id: str, summary: str, answer: ResponseSpec | None = None) -> dict[str, Any]:
    """The decorator of a read of one run: 404 for an unknown run, finance only."""
    return {
        **spec(
            operation_id,
            summary,
            problems=(404, 422),
            answers=None if answer is None else {200: answer},
        ),
        **access(Role.FINANCE),
    }


def csv_report(run: ReconciliationRun) -> Response[bytes]:
    """The run's report as a CSV file to save (report.csv)."""
    return Response(
        content=report_csv(run),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="reconciliation-{run.id}.csv"'},
    )


class ReconciliationsController(Controller):
    path = "/reconciliations"
    tags = ["reconciliation"]

    @post(
        "/",
        operation_id="createReconciliation",
        summary="Reconcile a PSP settlement file (Adyen, Stripe or PayPal layout)",
        description="Send the file as the body (text/csv) with an Idempotency-Key. The layout "
        "is detected from the header (?format forces one). Answers 201 with the run's "
        "summary, or 200 when this exact file was already reconciled. A line we cannot "
        "understand is an exception of its own; only a file that cannot be read at all "
        "answers 422, naming line and column, and records nothing.",
        status_code=201,
        request_max_body_size=MAX_UPLOAD_BYTES,
        before_request=idempotency_key_guard,
        responses={
            **created_or_existing(
                dict[str, Any],
                "Created: the run's summary",
                "This exact file was already reconciled",
            ),
            **problem_specs(409, 413, 415, 422),
        },
        operation_class=operation(request_body=_CSV_BODY),
        **access(Role.FINANCE),
    )
    async def create_run(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        once: OnceDep,
        file_format: FormatQuery = None,
    ) -> Response[bytes]:
        async with spooled_csv(request) as (path, file_sha):

            def reconcile() -> StoredResponse:
                outcome = reconcile_spooled(services, path, file_sha, file_format, dry_run=False)
                location = f"/reconciliations/{outcome.run.id}"
                return stored_answer(201 if outcome.created else 200, _summary(outcome), location)

            return await sync_to_thread(once.run, CREATE_SCOPE, file_sha, reconcile)

    @post(
        "/dry-run",
        operation_id="dryRunReconciliation",
        summary="Classify a settlement file as a reconciliation would, recording nothing",
        description="Send the file as the body (text/csv). Answers 200 with the summary the "
        "run would have (dry_run: true); nothing is recorded, so no Idempotency-Key is needed. "
        "A file that cannot be read at all answers 422 naming line and column.",
        status_code=200,
        request_max_body_size=MAX_UPLOAD_BYTES,
        responses={
            200: success(dict[str, Any], "The summary the run would have"),
            **problem_specs(413, 415, 422),
        },
        operation_class=operation(request_body=_CSV_BODY),
        **access(Role.FINANCE),
    )
    async def dry_run(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        file_format: FormatQuery = None,
    ) -> Response[bytes]:
        async with spooled_csv(request) as (path, file_sha):

            def classify() -> dict[str, Any]:
                outcome = reconcile_spooled(services, path, file_sha, file_format, dry_run=True)
                return _summary(outcome, dry_run=True)

            return _json(await sync_to_thread(classify))

    @get(
        "/exceptions",
        **spec(
            "listExceptionsAcrossReconciliations",
            "Exceptions across every run, oldest first, each with its age",
            problems=(422,),
            answers={200: success(ExceptionPage, "A page of exceptions")},
        ),
        description="Filters: state, kind, run_id, payment_order_id, payout_id, and since / "
        "until (the day the matter began); limit and offset page the answer.",
        **access(Role.FINANCE),
    )
    def list_all_exceptions(
        self,
        services: ServicesDep,
        finding_state: StateQuery = "open",
        kind: KindQuery = None,
        run_id: UuidQuery = None,
        payment_order_id: IdQuery = None,
        payout_id: IdQuery = None,
        since: SinceQuery = None,
        until: UntilQuery = None,
        limit: LimitQuery = 100,
        offset: OffsetQuery = 0,
    ) -> ExceptionPage:
        query = ExceptionQuery(
            finding_state, kind, run_id, payment_order_id, payout_id,
            day_of(since, "since"), day_of(until, "until"),
        )  # fmt: skip
        found = across_runs(services.application, services.pool).listed(query, datetime.now(UTC))
        return ExceptionPage(total=len(found), exceptions=found[offset : offset + limit])

    @get(
        "/summary",
        **spec(
            "getReconciliationDailySummary",
            "The daily summary: counts and amounts per class of the day's runs, and the "
            "open exceptions across all runs (count, amount, the oldest)",
            problems=(422,),
            answers={200: success(dict[str, Any], "The day's summary")},
        ),
        **access(Role.FINANCE),
    )
    def get_daily_summary(self, services: ServicesDep, day: DayQuery = None) -> Response[bytes]:
        now = datetime.now(UTC)
        chosen = day_of(day, "day") or now.date()
        reads = across_runs(services.application, services.pool)
        return _json(reads.summary(chosen, now, services.settings.currency))

    @get(
        "/days",
        **spec(
            "listReconciliationDays",
            "Each recent day up to yesterday: reconciled, failed (and why) or pending",
            problems=(422,),
            answers={200: success(dict[str, Any], "Days behind, and each day")},
        ),
        **access(Role.FINANCE),
    )
    def get_days(
        self, services: ServicesDep, days: Annotated[int, QueryParameter(ge=1, le=366)] = 14
    ) -> Response[bytes]:
        today = datetime.now(UTC).date()
        reconciler = services.reconciler
        statuses = [status.as_dict() for status in reconciler.day_statuses(today, days)]
        return _json({"days_behind": reconciler.days_behind(today), "days": statuses})

    @get(
        "/balance",
        **spec(
            "getPspBalanceCheck",
            "The PSP's available balance against ours, per currency, and the difference",
            problems=(409, 503),
            answers={200: success(dict[str, Any], "Both figures and the difference, per currency")},
        ),
        description="Asks the PSP for its balance (GET /v1/balance) and compares its "
        "available amount with psp_balance + bank of our ledger + what reconciling the PSP's "
        "files not reconciled yet (today's, and missed days') would book. Minor units; "
        "`balanced` is false on any difference or when a file could not be had. PSP pending "
        "and our unsettled psp_receivable are shown, not compared (docs/operations.md). "
        "Nothing is recorded; the psp-balance-check job records its checks. 409 without a "
        "PSP configured, 503 when the PSP does not answer.",
        **access(Role.FINANCE),
    )
    def get_balance_check(self, services: ServicesDep) -> Response[bytes]:
        try:
            check = services.check_psp_balance()
        except NoPspConfigured as error:
            raise ProblemError(
                409, "no-psp-configured", "This deployment has no PSP", str(error)
            ) from None
        except BalanceUnavailable as error:
            raise ProblemError(
                503, "psp-unavailable", "The PSP's balance is not available", str(error),
                headers={"retry-after": "60"},
            ) from None  # fmt: skip
        return _json(check.as_dict())

    @get(
        "/{run_id:str}",
        **run_spec(
            "getReconciliation",
            "A reconciliation run's summary: counts and amounts per class",
            success(dict[str, Any], "The run's summary"),
        ),
    )
    def get_run(self, run_id: RunIdPath, services: ServicesDep) -> Response[bytes]:
        return _json(summary(services.reconciliations.get_run(run_id)))

    @get(
        "/{run_id:str}/exceptions",
        **run_spec(
            "listReconciliationExceptions",
            "The run's exceptions (manual queue); ?state=open|auto_fixed|resolved|all",
        ),
    )
    def list_exceptions(
        self,
        run_id: RunIdPath,
        services: ServicesDep,
        finding_state: StateQuery = "open",
        limit: LimitQuery = 100,
        offset: OffsetQuery = 0,
    ) -> ExceptionPage:
        run = services.reconciliations.get_run(run_id)
        query = ExceptionQuery(state=finding_state)
        chosen = [f for f in sorted_findings(run) if query.wants(FindingAt.of(run, f))]
        page = [finding_view(run, finding) for finding in chosen[offset : offset + limit]]
        return ExceptionPage(run_id=str(run.id), total=len(chosen), exceptions=page)

    @post(
        "/{run_id:str}/exceptions/{finding_id:str}/resolve",
        **spec(
            "resolveReconciliationException",
            "Record a person's decision on an open exception, posting its adjustment",
            problems=(404, 409, 413, 422),
            answers={200: success(dict[str, Any], "The exception, resolved")},
        ),
        description="Body {action, reason}; the caller's key is recorded as who decided. "
        "action is accept_psp (post the PSP's "
        "figure, the difference to write_offs), write_off (the same, never a seller's "
        "balance), accept_ours, mark_duplicate (duplicates only) or investigated (these three "
        "post nothing). A second resolution of the same exception answers 409.",
        status_code=200,
        **access(Role.FINANCE),
    )
    def resolve(
        self,
        run_id: RunIdPath,
        finding_id: FindingIdPath,
        data: JSONBody[ResolveRequest],
        services: ServicesDep,
        caller: CallerDep,
    ) -> Response[bytes]:
        run = resolve_exception(services, run_id, finding_id, data, caller)
        return _json(finding_view(run, run.findings[finding_id]))

    @get(
        "/{run_id:str}/report.csv",
        **run_spec(
            "getReconciliationReportCsv",
            "The full report as CSV (deterministic)",
            success(str, "The report", media_type="text/csv; charset=utf-8"),
        ),
    )
    def get_report_csv(self, run_id: RunIdPath, services: ServicesDep) -> Response[bytes]:
        return csv_report(services.reconciliations.get_run(run_id))

    @get(
        "/{run_id:str}/report.json",
        **run_spec(
            "getReconciliationReportJson",
            "The full report as JSON (deterministic)",
            success(dict[str, Any], "The report"),
        ),
    )
    def get_report_json(self, run_id: RunIdPath, services: ServicesDep) -> Response[bytes]:
        return _json_bytes(report_json(services.reconciliations.get_run(run_id)))
