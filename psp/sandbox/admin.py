"""Admin and reporting endpoints: faults, reset, counts, events, settlements; and health."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler

from payments.psp.sandbox.models import FaultRuleRequest
from payments.psp.sandbox.problems import ProblemError, decode_json
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.settlement_report import settlement_csv, settlement_days
from payments.psp.sandbox.webhooks import list_events

_SETTLEMENT_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})\.csv")


def health_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @get("/health")
    async def health() -> dict[str, str]:
        sandbox.store.fetch_one("SELECT 1")
        return {"status": "ok"}

    return [health]


def admin_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post("/admin/faults", status_code=201)
    async def add_faults(request: Request[Any, Any, Any]) -> dict[str, Any]:
        raw = await request.body()
        try:
            parsed = msgspec.json.decode(raw)
        except msgspec.DecodeError as error:
            raise ProblemError(400, "Malformed JSON", str(error)) from None
        items = parsed if isinstance(parsed, list) else [parsed]
        rules = [decode_json(msgspec.json.encode(item), FaultRuleRequest) for item in items]
        added = sandbox.faults.add(rules)
        return {"added": [rule.as_json() for rule in added]}

    @get("/admin/faults")
    async def list_faults() -> dict[str, Any]:
        return {"faults": [rule.as_json() for rule in sandbox.faults.active()]}

    @delete("/admin/faults", status_code=204)
    async def clear_faults() -> None:
        sandbox.faults.clear()

    @post("/admin/reset", status_code=204)
    async def reset_state() -> None:
        sandbox.faults.clear()
        sandbox.store.wipe()

    @get("/admin/charges/count")
    async def count_charges(reference: str) -> dict[str, Any]:
        row = sandbox.store.fetch_one(
            "SELECT count(*) AS total, coalesce(sum(status = 'succeeded'), 0) AS succeeded"
            " FROM charges WHERE reference = ?",
            (reference,),
        )
        assert row is not None
        return {"reference": reference, "charges": row["total"], "succeeded": row["succeeded"]}

    @get("/admin/payouts/count")
    async def count_payouts(reference: str) -> dict[str, Any]:
        row = sandbox.store.fetch_one(
            "SELECT count(*) AS total FROM payouts WHERE reference = ?", (reference,)
        )
        assert row is not None
        return {"reference": reference, "payouts": row["total"]}

    @get("/v1/events")
    async def get_events(limit: int = 1000) -> dict[str, Any]:
        return {"object": "list", "data": list_events(sandbox.store, max(1, min(limit, 10_000)))}

    @get("/v1/settlements")
    async def list_settlements() -> dict[str, Any]:
        days = settlement_days(sandbox.store)
        files = [{"date": day, "url": f"/v1/settlements/{day}.csv"} for day in days]
        return {"object": "list", "data": files}

    @get("/v1/settlements/{file_name:str}")
    async def get_settlement_file(file_name: str, currency: str | None = None) -> Response[str]:
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
            media_type="text/csv; charset=utf-8",
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
