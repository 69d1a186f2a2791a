"""The overview: today's checkouts and orders, dead letters, reconciliation exceptions,
projection lag and payouts due; each tile only for the roles whose JSON routes show it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Template

from payments.api.console.charts import columns, horizontal
from payments.api.console.pages import Page, render
from payments.api.routes.dead_letters import parked
from payments.domain.api_key import Role
from payments.domain.money import format_minor
from payments.projections.catalog import LiveViews, projection_states
from payments.projections.followers.execution_queue import CHARGE, PAYOUT, REFUND
from payments.projections.reconciliation.exceptions import (
    ExceptionQuery,
    list_exceptions,
    load_runs,
)
from payments.runtime.keys import Caller
from payments.runtime.services import Services

PAGE = Page.of("/console", "Overview", *Role)
ORDERS = frozenset({Role.MERCHANT, Role.OPERATOR, Role.FINANCE, Role.ADMIN})
OPERATIONS = frozenset({Role.OPERATOR, Role.ADMIN})
MONEY = frozenset({Role.OPERATOR, Role.FINANCE, Role.ADMIN})
FINANCE = frozenset({Role.FINANCE, Role.ADMIN})
STATUSES = ("NOT_STARTED", "EXECUTING", "SUCCESS", "FAILED")


def orders_today(services: Services, since: datetime) -> dict[str, Any]:
    currency = services.settings.currency
    totals = LiveViews.on(services.pool).order_status.totals_since(since)
    statuses = [*STATUSES, *sorted(set(totals.by_status) - set(STATUSES))]
    rows = [(s, *totals.by_status.get(s, (0, 0))) for s in statuses]
    done = sum(n for s, n, _ in rows if s in ("SUCCESS", "FAILED"))
    succeeded = totals.by_status.get("SUCCESS", (0, 0))[0]
    hours = {hour.hour: n for hour, n in totals.by_hour}
    return {
        "checkouts": totals.checkouts,
        "orders": sum(n for _, n, _ in rows),
        "rows": [(s, n, format_minor(amount, currency)) for s, n, amount in rows],
        "success_rate": f"{100 * succeeded / done:.1f} %" if done else "none finished yet",
        "captured": format_minor(totals.by_status.get("SUCCESS", (0, 0))[1], currency),
        "currency": currency,
        "by_status": horizontal("Orders by status", [(s, n) for s, n, _ in rows]),
        "by_hour": columns(
            "Orders per hour (UTC)", [(f"{h:02d}:00", hours.get(h, 0)) for h in range(24)]
        ),
    }


def dead_letters(services: Services) -> dict[str, int]:
    return {
        "orders": len(parked(services, CHARGE)),
        "payouts": len(parked(services, PAYOUT)),
        "refunds": len(parked(services, REFUND)),
    }


def reconciliation(services: Services, now: datetime) -> dict[str, Any]:
    runs = load_runs(services.application, services.pool)
    found = list_exceptions(runs, ExceptionQuery(state="open"), now)
    return {"open": len(found), "oldest": found[0] if found else None}


def payouts_due(services: Services) -> dict[str, Any]:
    minimum = services.settings.payout_minimum_minor
    due = [w for w in LiveViews.on(services.pool).wallets.wallets() if w.available_minor >= minimum]
    currency = services.settings.currency
    return {
        "sellers": len(due),
        "amount": format_minor(sum(w.available_minor for w in due), currency),
        "minimum": format_minor(minimum, currency),
    }


@get("/", sync_to_thread=True, **PAGE.access)
def overview(caller: NamedDependency[Caller], services: NamedDependency[Services]) -> Template:
    now = datetime.now(UTC)
    role = caller.role
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return render(
        "overview.html",
        caller,
        PAGE,
        now=now,
        day=midnight.date().isoformat(),
        next_day=(midnight + timedelta(days=1)).date().isoformat(),
        today=orders_today(services, midnight) if role in ORDERS else None,
        dead_letters=dead_letters(services) if role in OPERATIONS else None,
        reconciliation=reconciliation(services, now) if role in FINANCE else None,
        payouts=payouts_due(services) if role in MONEY else None,
        projections=projection_states(services.application, services.pool)
        if role in MONEY
        else None,
    )


HANDLERS = [overview]
