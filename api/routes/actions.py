"""Who did what, and what the PSP contradicted: GET /audit/actions, GET /discrepancies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from payments.api.auth import access
from payments.api.openapi import spec
from payments.api.parameters import MAX_POSITION, POSITION_PATTERN, LimitQuery, ServicesDep
from payments.api.reads import keyset_page, order_responses
from payments.api.schemas import PaymentOrderResponse
from payments.domain.api_key import Role
from payments.projections.catalog import LiveViews
from payments.projections.followers.follower import Follower
from payments.projections.source import ApplicationEventSource
from payments.projections.views.access import AuditActionsView
from payments.runtime.services import Services

ACTOR_PATTERN = r"^([a-z2-7]{12}|cli|unknown)$"
ActorQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=ACTOR_PATTERN, description="Only the actions of this key id (or `cli`, `unknown`)"
    ),
]
ACTION_PATTERN = r"^[a-z_]{1,30}\.[a-z_]{1,30}$"
ActionQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=ACTION_PATTERN,
        description="Only actions of this kind (e.g. `seller.suspended`, `order.replayed`)",
    ),
]
AfterQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=POSITION_PATTERN,
        description="Actions after this event position (the `next_after` of the previous page)",
        schema_extra={"type": "integer", "minimum": 0, "maximum": MAX_POSITION},
    ),
]


class ActionView(msgspec.Struct, frozen=True):
    position: int
    recorded_at: datetime
    actor: str  # the API key id, `cli` for the command line, `unknown` before v0.3
    action: str
    subject: str
    detail: str


class ActionPage(msgspec.Struct, frozen=True):
    actions: list[ActionView]
    next_after: int | None


class DiscrepancyList(msgspec.Struct, frozen=True):
    """Orders whose recorded outcome the PSP later contradicted, most recent first."""

    orders: list[PaymentOrderResponse]


def action_page(
    services: Services, *, actor: str | None, action: str | None, after: str | None, limit: int
) -> ActionPage:
    """A page of the actions log (GET /audit/actions and the console's Audit page)."""
    view = AuditActionsView(services.pool)
    # Caught up first, so that an action just taken is listed (read-your-writes).
    Follower(view, ApplicationEventSource(services.application)).run_until_idle()
    start = min(int(after), MAX_POSITION) if after else 0
    actions = view.actions(actor=actor, action=action, after=start, limit=limit + 1)
    page, last = keyset_page(actions, limit)
    return ActionPage(
        actions=[
            ActionView(a.position, a.recorded_at, a.actor, a.action, a.subject, a.detail)
            for a in page
        ],
        next_after=last.position if last is not None else None,
    )


class AuditActionsController(Controller):
    tags = ["audit"]

    @get(
        "/audit/actions",
        **spec(
            "listAuditActions",
            "Commands done with operator, finance and admin keys, oldest first",
            problems=(422,),
        ),
        description="Read from the events (key changes, replays, manual payouts, "
        "resolutions, refunds, erasures): the key id that did it, what, to which subject.",
        **access(Role.FINANCE),
    )
    def list_actions(
        self,
        services: ServicesDep,
        actor: ActorQuery = None,
        action: ActionQuery = None,
        after: AfterQuery = None,
        limit: LimitQuery = 50,
    ) -> ActionPage:
        return action_page(services, actor=actor, action=action, after=after, limit=limit)

    @get(
        "/discrepancies",
        **spec(
            "listDiscrepancies",
            "Orders whose recorded outcome the PSP contradicted (to investigate)",
            problems=(422,),
        ),
        **access(Role.OPERATOR, Role.FINANCE),
    )
    def list_discrepancies(self, services: ServicesDep, limit: LimitQuery = 50) -> DiscrepancyList:
        views = LiveViews.on(services.pool)
        rows = views.order_status.with_discrepancies(limit)
        return DiscrepancyList(orders=order_responses(views, rows))
