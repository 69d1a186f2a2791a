"""Admin and reporting endpoints: faults, reset, counts, events, settlements; and health."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from litestar import Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody, PathParameter, QueryParameter

from payments.psp.sandbox.admin_models import (
    ChargeCount,
    EventList,
    FaultList,
    FaultRuleRequest,
    FaultsAdded,
    Health,
    PayoutCount,
    SettlementFileList,
    SettlementFileRef,
)
from payments.psp.sandbox.bodies import StrictBody
from payments.psp.sandbox.movements import movement_days
from payments.psp.sandbox.openapi import (
    BAD_BODY,
    BAD_PARAMETERS,
    CurrencyQuery,
    ReferenceQuery,
    answers,
)
from payments.psp.sandbox.problems import ProblemError
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.settlement_report import settlement_csv
from payments.psp.sandbox.webhooks import list_events

SETTLEMENT_FILE_PATTERN = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})\.csv$"
_SETTLEMENT_FILE = re.compile(SETTLEMENT_FILE_PATTERN)
ADMIN, EVENTS, SETTLEMENTS = "admin", "events", "settlements"


def health_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @get(
        "/health",
        operation_id="getHealth",
        tags=["health"],
        summary="Is the sandbox up",
        responses=answers(
            {200: (Health, "the sandbox answers and its database is readable")}, public=True
        ),
    )
    async def health() -> Health:
        sandbox.store.fetch_one("SELECT 1")
        return Health("ok")

    return [health]


def admin_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post(
        "/admin/faults",
        status_code=201,
        operation_id="addFaults",
        tags=[ADMIN],
        summary="Add fault rules",
        dto=StrictBody.of(FaultRuleRequest | list[FaultRuleRequest]),
        responses=answers({201: (FaultsAdded, "the rules as added")}, BAD_BODY),
    )
    async def add_faults(data: JSONBody[FaultRuleRequest | list[FaultRuleRequest]]) -> FaultsAdded:
        """One rule or a list. Request faults (latency, timeout, status, reset, charged_but_500,
        charged_but_404, key_conflict_400) hit calls to their endpoint; webhook faults
        (drop_webhook, duplicate_webhook, delay_webhook, reorder_webhooks) hit events, with an
        endpoint only events about its objects (`charges`: `charge.*`), with an `object_id`
        only events about that object. A rule with `count` hits that many calls, one with
        `until` ends then, else it stays."""
        rules = sandbox.faults.add(data if isinstance(data, list) else [data])
        return FaultsAdded([rule.view() for rule in rules])

    @get(
        "/admin/faults",
        operation_id="listFaults",
        tags=[ADMIN],
        summary="List the active fault rules",
        responses=answers({200: (FaultList, "the active rules")}),
    )
    async def list_faults() -> FaultList:
        return FaultList([rule.view() for rule in sandbox.faults.active()])

    @delete(
        "/admin/faults",
        status_code=204,
        operation_id="clearFaults",
        tags=[ADMIN],
        summary="Remove every fault rule",
        responses=answers({204: (None, "no rule is left")}),
    )
    async def clear_faults() -> None:
        sandbox.faults.clear()

    @post(
        "/admin/reset",
        status_code=204,
        operation_id="resetSandbox",
        tags=[ADMIN],
        summary="Forget every fault and every record",
        responses=answers({204: (None, "the sandbox is empty")}),
    )
    async def reset_state() -> None:
        sandbox.faults.clear()
        sandbox.store.wipe()

    @get(
        "/admin/charges/count",
        operation_id="countCharges",
        tags=[ADMIN],
        summary="Count the charges made for one of our references",
        responses=answers({200: (ChargeCount, "how many charges exist")}, BAD_PARAMETERS),
    )
    async def count_charges(reference: ReferenceQuery) -> ChargeCount:
        row = sandbox.store.fetch_one(
            "SELECT count(*) AS total, coalesce(sum(status = 'succeeded'), 0) AS succeeded"
            " FROM charges WHERE reference = ?",
            (reference,),
        )
        assert row is not None
        return ChargeCount(reference, row["total"], row["succeeded"])

    @get(
        "/admin/payouts/count",
        operation_id="countPayouts",
        tags=[ADMIN],
        summary="Count the payouts made for one of our references",
        responses=answers({200: (PayoutCount, "how many payouts exist")}, BAD_PARAMETERS),
    )
    async def count_payouts(reference: ReferenceQuery) -> PayoutCount:
        row = sandbox.store.fetch_one(
            "SELECT count(*) AS total FROM payouts WHERE reference = ?", (reference,)
        )
        assert row is not None
        return PayoutCount(reference, row["total"])

    @get(
        "/v1/events",
        operation_id="listEvents",
        tags=[EVENTS],
        summary="List webhook events, oldest first, with their deliveries",
        responses=answers({200: (EventList, "the first `limit` events")}, BAD_PARAMETERS),
    )
    async def get_events(
        limit: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1000,
    ) -> EventList:
        return EventList("list", list_events(sandbox.store, limit))

    @get(
        "/v1/settlements",
        operation_id="listSettlementFiles",
        tags=[SETTLEMENTS],
        summary="List the days that have a settlement file",
        responses=answers({200: (SettlementFileList, "one entry per day with a line")}),
    )
    async def list_settlements() -> SettlementFileList:
        days = movement_days(sandbox.store)
        files = [SettlementFileRef(day, f"/v1/settlements/{day}.csv") for day in days]
        return SettlementFileList("list", files)

    @get(
        "/v1/settlements/{file_name:str}",
        operation_id="getSettlementFile",
        tags=[SETTLEMENTS],
        summary="Download one day's settlement file (Adyen settlement details report CSV)",
        responses=answers(
            {200: (str, "the CSV file")},
            BAD_PARAMETERS,
            {404: "the name is not YYYY-MM-DD.csv (a day without lines has a header only)"},
            media_type="text/csv",
        ),
    )
    async def get_settlement_file(
        file_name: Annotated[
            str,
            PathParameter(
                description="`YYYY-MM-DD.csv`, a UTC day; another name is a 404",
                # Stated, not enforced by Litestar: a name of another shape answers 404 (the
                # file does not exist), as it always has, rather than a parameter's 400.
                schema_extra={"pattern": SETTLEMENT_FILE_PATTERN},
            ),
        ],
        currency: CurrencyQuery = None,
    ) -> Response[str]:
        match = _SETTLEMENT_FILE.fullmatch(file_name)
        try:
            day = date.fromisoformat(match.group(1)) if match else None
        except ValueError:
            day = None
        if day is None:
            raise ProblemError(
                404, "Settlement not found", "ask for /v1/settlements/YYYY-MM-DD.csv"
            )
        chosen = currency or sandbox.config.settlement_currency
        body = settlement_csv(sandbox.store, sandbox.config, day, chosen)
        return Response(
            body,
            media_type="text/csv",  # Litestar adds "; charset=utf-8" to a text type
            headers={"Content-Disposition": f'attachment; filename="settlement_{file_name}"'},
        )

    return [
        add_faults,
        list_faults,
        clear_faults,
        reset_state,
        count_charges,
        count_payouts,
        get_events,
        list_settlements,
        get_settlement_file,
    ]
