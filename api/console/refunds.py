"""Refunds: every refund and its state, newest first, keyset paged, filtered by state and
seller; each links to its order's page. The same read and roles as GET /refunds (a seller
key: its own seller's, and no order page). A refund is made from its order's page."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from payments.api.console.orders import id_field, order_links
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
from payments.api.refund_schemas import ShownStatus
from payments.api.routes.refunds import list_refunds
from payments.domain.api_key import Role

PAGE = Page.of(
    "/console/refunds", "Refunds", Role.MERCHANT, Role.OPERATOR, Role.FINANCE, Role.SELLER
)
PAGE_SIZE = 50
STATUSES = tuple(s.value for s in ShownStatus)


@get("/refunds", sync_to_thread=True, **PAGE.access)
def refunds_page(
    caller: CallerDep,
    services: ServicesDep,
    status: Field = None,
    seller: Field = None,
    cursor: Field = None,
) -> Template:
    where = {
        "status": chosen("status", status, STATUSES),
        "seller_account": id_field("seller", seller),
    }
    found = list_refunds(services, caller, where, (PAGE_SIZE, cursor or None))
    kept = given(status=where["status"], seller=where["seller_account"])
    return render(
        "refunds.html",
        caller,
        PAGE,
        query=kept,
        statuses=STATUSES,
        items=found.items,
        links=order_links(caller, {r.refund_id: r.payment_order_id for r in found.items}),
        may_search=caller.role is not Role.SELLER,
        more=next_page(kept, "cursor", found.next_cursor),
        first_page=cursor is None,
    )


HANDLERS = [refunds_page]
