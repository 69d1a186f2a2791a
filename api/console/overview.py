"""The overview: today's checkouts and orders, disputes awaiting evidence, dead letters,
reconciliation exceptions, projection lag, payouts due and webhook deliveries failed; each
tile only for the roles whose JSON routes show it. As of a past instant: the orders, dead
letters, payouts due and open reconciliation exceptions replayed from the events; disputes,
projection lag and webhook deliveries are not replayed (facts of the present), so a past
overview leaves them out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import get
from litestar.response import Template

from payments.api.console.charts import columns, horizontal
from payments.api.console.pages import (
    CallerDep,
    Field,
    Page,
    ServicesDep,
    as_of_of,
    render,
    time_left,
)
from payments.api.routes.dead_letters import parked
from payments.domain.api_key import Role
from payments.domain.money import format_minor
from payments.projections.audit.as_of import order_as_of
from payments.projections.audit.instants import AsOfUnavailable
from payments.projections.audit.past_operations import (
    TooManyToReplay,
    available_as_of,
    dead_letters_as_of,
)
from payments.projections.catalog import LiveViews, projection_states
from payments.projections.followers.execution_queue import CHARGE, PAYOUT, REFUND
from payments.projections.reconciliation.exceptions import ExceptionQuery, across_runs
from payments.projections.views.disputes import DisputesView
from payments.projections.views.order_status import OrderFilter
from payments.projections.views.order_status_pg import OrderTotals
from payments.runtime.scheduling import failing_jobs
from payments.runtime.services import Services

PAGE = Page.of("/console", "Overview", *Role)
ORDERS = frozenset({Role.MERCHANT, Role.OPERATOR, Role.FINANCE, Role.ADMIN})
OPERATIONS = frozenset({Role.OPERATOR, Role.ADMIN})
MONEY = frozenset({Role.OPERATOR, Role.FINANCE, Role.ADMIN})
FINANCE = frozenset({Role.FINANCE, Role.ADMIN})
WEBHOOKS = frozenset({Role.MERCHANT, Role.OPERATOR, Role.ADMIN})  # GET /webhook-endpoints
STATUSES = ("NOT_STARTED", "EXECUTING", "SUCCESS", "FAILED")
PAST_LIMIT = 5000  # orders of one day replayed for a past overview, at most


def totals_as_of(services: Services, since: datetime, instant: datetime) -> OrderTotals | None:
    """The day's orders created by `instant`, each replayed to it (ADR 0007); None when the
    day has more orders than a page should replay (PAST_LIMIT)."""
    view = LiveViews.on(services.pool).order_status
    where = OrderFilter(created_from=since, created_to=instant + timedelta(microseconds=1))
    found = view.list_orders(where, limit=PAST_LIMIT)
    if found.next_key is not None:
        return None
    by_status: dict[str, tuple[int, int]] = {}
    hours: dict[datetime, int] = {}
    checkouts = set()
    for item in found.items:
        past = order_as_of(services.pool, services.application, item.payment_order_id, instant)
        if past is None:
            continue
        row = past.row
        n, amount = by_status.get(row.status, (0, 0))
        by_status[row.status] = (n + 1, amount + row.amount_minor)
        hour = row.created_at.replace(minute=0, second=0, microsecond=0)
        hours[hour] = hours.get(hour, 0) + 1
        checkouts.add(row.checkout_id)
    return OrderTotals(len(checkouts), by_status, sorted(hours.items()))


def orders_today(services: Services, totals: OrderTotals) -> dict[str, Any]:
    currency = services.settings.currency
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


def dead_letters(services: Services, instant: datetime | None) -> dict[str, Any]:
    """Parked now (the queue), or at a past instant (replayed from the events)."""
    if instant is None:
        return {
            "orders": len(parked(services, CHARGE)),
            "payouts": len(parked(services, PAYOUT)),
            "refunds": len(parked(services, REFUND)),
        }
    try:
        return dict(
            dead_letters_as_of(services.pool, services.application, instant, limit=PAST_LIMIT)
        )
    except TooManyToReplay as error:
        return {"unavailable": str(error)}


def reconciliation(services: Services, now: datetime, instant: datetime | None) -> dict[str, Any]:
    """Open exceptions now, or at a past instant (each run replayed to then, aged then)."""
    reads = across_runs(services.application, services.pool, instant)
    found = reads.listed(ExceptionQuery(state="open"), now)
    return {"open": len(found), "oldest": found[0] if found else None}


def payouts_due(services: Services, instant: datetime | None) -> dict[str, Any]:
    """Sellers whose available balance reaches today's payout minimum: now (the wallets
    view), or at a past instant (their ledger accounts as of then)."""
    if instant is None:
        available = [w.available_minor for w in LiveViews.on(services.pool).wallets.wallets()]
    else:
        try:
            past = available_as_of(services.pool, services.application, instant)
        except AsOfUnavailable as error:
            return {"unavailable": str(error)}
        available = list(past.values())
    minimum = services.settings.payout_minimum_minor
    due = [amount for amount in available if amount >= minimum]
    currency = services.settings.currency
    return {
        "sellers": len(due),
        "amount": format_minor(sum(due), currency),
        "minimum": format_minor(minimum, currency),
    }


def disputes_awaiting(services: Services, now: datetime) -> dict[str, Any]:
    """How many disputes await evidence, and the time left to the soonest deadline."""
    count, soonest = DisputesView(services.pool).awaiting_evidence()
    left = None if soonest is None else time_left(soonest, now)
    return {"count": count, "left": left, "overdue": soonest is not None and soonest <= now}


@get("/", sync_to_thread=True, **PAGE.access)
def overview(caller: CallerDep, services: ServicesDep, as_of: Field = None) -> Template:
    instant = as_of_of(as_of)
    now = instant or datetime.now(UTC)
    role = caller.role
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today: dict[str, Any] | None = None
    totals: OrderTotals | None = None
    too_many = False
    if role in ORDERS:
        if instant is None:
            totals = LiveViews.on(services.pool).order_status.totals_since(midnight)
        else:
            totals = totals_as_of(services, midnight, instant)
            too_many = totals is None
        today = orders_today(services, totals) if totals is not None else None
    present = instant is None  # projection lag is not replayed: for now only
    return render(
        "overview.html",
        caller,
        PAGE,
        as_of=instant,
        now=now,
        day=midnight.date().isoformat(),
        today=today,
        too_many=too_many,
        past_limit=PAST_LIMIT,
        disputes=disputes_awaiting(services, now) if present and role in ORDERS else None,
        dead_letters=dead_letters(services, instant) if role in OPERATIONS else None,
        reconciliation=reconciliation(services, now, instant) if role in FINANCE else None,
        payouts=payouts_due(services, instant) if role in MONEY else None,
        projections=projection_states(services.application, services.pool)
        if present and role in MONEY
        else None,
        failing_jobs=failing_jobs(services) if present and role in MONEY else None,
        webhooks=services.webhooks.deliveries.backlog() if present and role in WEBHOOKS else None,
    )


HANDLERS = [overview]
