"""Payouts: every payout and its state, newest first, keyset paged, filtered by seller and
state, and a payout's page. The same reads and roles as GET /payouts and GET
/payouts/{payout_id}; a seller key sees its own seller's payouts only."""

from __future__ import annotations

from urllib.parse import quote

from litestar import get
from litestar.response import Template

from payments.api.console.orders import id_field
from payments.api.console.pages import (
    CallerDep,
    Field,
    Page,
    ServicesDep,
    chosen,
    given,
    next_page,
    render,
)
from payments.api.parameters import PayoutIdPath
from payments.api.routes.payouts import list_payouts, read_payout
from payments.domain.api_key import Role
from payments.domain.payout import PayoutStatus
from payments.projections.views.payouts import PayoutFilter

PAGE = Page.of("/console/payouts", "Payouts", Role.OPERATOR, Role.FINANCE, Role.SELLER)
PAGE_SIZE = 50
STATUSES = tuple(s.value for s in PayoutStatus)


def payout_path(payout_id: str) -> str:
    return f"{PAGE.path}/{quote(payout_id)}"


@get("/payouts", sync_to_thread=True, **PAGE.access)
def payouts_page(
    caller: CallerDep,
    services: ServicesDep,
    seller: Field = None,
    status: Field = None,
    cursor: Field = None,
) -> Template:
    wanted = PayoutFilter(id_field("seller", seller), chosen("status", status, STATUSES))
    found = list_payouts(services, caller, wanted, PAGE_SIZE, cursor or None)
    kept = given(seller=wanted.seller_account, status=wanted.status)
    return render(
        "payouts.html",
        caller,
        PAGE,
        query=kept,
        statuses=STATUSES,
        items=found.items,
        links={p.payout_id: payout_path(p.payout_id) for p in found.items},
        more=next_page(kept, "cursor", found.next_cursor),
        first_page=cursor is None,
        may_search=caller.role is not Role.SELLER,
    )


@get("/payouts/{payout_id:str}", sync_to_thread=True, **PAGE.access)
def payout_page(payout_id: PayoutIdPath, caller: CallerDep, services: ServicesDep) -> Template:
    return render("payout.html", caller, PAGE, payout=read_payout(services, caller, payout_id))


HANDLERS = [payouts_page, payout_page]
