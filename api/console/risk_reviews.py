"""Risk reviews: the orders the risk rules hold (oldest first, keyset paging) with the rule,
its numbers, the amount and how long each has waited; an operator approves one (it goes on to
be charged) or declines it (FAILED, never charged), with a reason and a ticked confirmation.
The same queue and commands as GET /risk/reviews and POST /risk/reviews/{id}/approve|decline."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec
from litestar import get, post
from litestar.response import Redirect, Template

from payments.api.console.forms import FormBody, as_json_body, confirmed
from payments.api.console.orders import order_path
from payments.api.console.pages import (
    CallerDep,
    Field,
    Page,
    ServicesDep,
    age,
    next_page,
    render,
)
from payments.api.parameters import ID_PATTERN, PaymentOrderIdPath
from payments.api.routes.risk import ReviewDecision, decide, review_page
from payments.domain.api_key import Role
from payments.runtime.keys import Caller
from payments.runtime.services import Services

PAGE = Page.of("/console/risk-reviews", "Risk reviews", Role.OPERATOR)
PAGE_SIZE = 50
_ID = re.compile(ID_PATTERN, re.ASCII)
DONE = {
    "approved": "Approved {order}: it goes on to the executor to be charged.",
    "declined": "Declined {order}: it is FAILED (blocked_by_risk) and never charged.",
}


class DecisionForm(msgspec.Struct, frozen=True):
    reason: str = ""
    confirm: str = ""


@get("/risk-reviews", sync_to_thread=True, **PAGE.access)
def risk_reviews_page(
    caller: CallerDep,
    services: ServicesDep,
    cursor: Field = None,
    done: Field = None,
    order: Field = None,
) -> Template:
    found = review_page(services, PAGE_SIZE, cursor or None)
    now = datetime.now(UTC)
    decided = order if order and _ID.fullmatch(order) and done in DONE else None
    return render(
        "risk_reviews.html",
        caller,
        PAGE,
        items=found.items,
        ages={r.payment_order_id: age(r.held_at, now) for r in found.items},
        links={r.payment_order_id: order_path(r.payment_order_id) for r in found.items},
        more=next_page({}, "cursor", found.next_cursor),
        first_page=not cursor,
        done=DONE[done].format(order=decided) if decided and done else None,
        decided_link=order_path(decided) if decided else None,
    )


def _decide(
    services: Services, caller: Caller, payment_order_id: str, approved: bool, form: DecisionForm
) -> Redirect:
    verb = "approve" if approved else "decline"
    confirmed(form.confirm, f"that you {verb} this order")
    reason = as_json_body(ReviewDecision, "reason", reason=form.reason.strip()).reason
    result = decide(services, payment_order_id, approved, reason, caller)
    return Redirect(f"{PAGE.path}?done={result.decision}&order={payment_order_id}", status_code=303)


@post("/risk-reviews/{payment_order_id:str}/approve", sync_to_thread=True, **PAGE.access)
def approve(
    payment_order_id: PaymentOrderIdPath,
    data: FormBody[DecisionForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    return _decide(services, caller, payment_order_id, True, data)


@post("/risk-reviews/{payment_order_id:str}/decline", sync_to_thread=True, **PAGE.access)
def decline(
    payment_order_id: PaymentOrderIdPath,
    data: FormBody[DecisionForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    return _decide(services, caller, payment_order_id, False, data)


HANDLERS = [risk_reviews_page, approve, decline]
