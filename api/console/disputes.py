"""Disputes: the work list of chargebacks that await the merchant's evidence, soonest deadline
first, with the time left for each; any other status, seller or order on a filter, newest
first or by deadline, keyset paged. The same read and roles as GET /disputes (a seller key:
its own seller's, read only); an order's page shows its dispute and takes the evidence."""

from __future__ import annotations

from datetime import UTC, datetime

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
    time_left,
)
from payments.api.dispute_reads import list_disputes
from payments.api.dispute_schemas import DisputeResponse
from payments.domain.api_key import Role
from payments.domain.dispute import DisputeStatus
from payments.projections.views.disputes import DisputeFilter, DisputeOrder

PAGE = Page.of(
    "/console/disputes", "Disputes", Role.MERCHANT, Role.OPERATOR, Role.FINANCE, Role.SELLER
)
PAGE_SIZE = 50
STATUSES = tuple(s.value for s in DisputeStatus)
SORTS = tuple(o.value for o in DisputeOrder)
# Opened with no query: what awaits evidence, soonest deadline first.
WORK_LIST = (DisputeStatus.NEEDS_RESPONSE.value, DisputeOrder.DUE.value)


def answer_left(dispute: DisputeResponse, now: datetime) -> str:
    """What the merchant has left to answer: '2 d 3 h', 'overdue by 5 min', or '' once the
    dispute no longer awaits evidence."""
    if dispute.status != DisputeStatus.NEEDS_RESPONSE.value:
        return ""
    return time_left(dispute.evidence_due_by, now)


@get("/disputes", sync_to_thread=True, **PAGE.access)
def disputes_page(
    caller: CallerDep,
    services: ServicesDep,
    status: Field = None,
    order: Field = None,
    seller: Field = None,
    cursor: Field = None,
) -> Template:
    if status is None and order is None and seller is None:
        status, order = WORK_LIST
    wanted = DisputeFilter(chosen("status", status, STATUSES), id_field("seller", seller))
    sort = DisputeOrder(chosen("order", order, SORTS) or DisputeOrder.NEWEST.value)
    found = list_disputes(services, caller, wanted, sort, (PAGE_SIZE, cursor or None))
    now = datetime.now(UTC)
    kept = given(status=status or "", order=sort.value, seller=wanted.seller_account)
    return render(
        "disputes.html",
        caller,
        PAGE,
        query=kept,
        statuses=STATUSES,
        items=found.items,
        left={d.dispute_id: answer_left(d, now) for d in found.items},
        links=order_links(caller, {d.dispute_id: d.payment_order_id for d in found.items}),
        may_search=caller.role is not Role.SELLER,
        more=next_page(kept, "cursor", found.next_cursor),
        first_page=cursor is None,
        work_list=(wanted.status, sort.value) == WORK_LIST and wanted.seller_account is None,
    )


HANDLERS = [disputes_page]
