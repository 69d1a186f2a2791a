"""The risk review queue (issue #17): orders the risk rules held, approved or declined by an
operator with a reason; the decision is recorded with the operator's key id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody

from payments.api.auth import access
from payments.api.openapi import spec
from payments.api.parameters import (
    CallerDep,
    CursorQuery,
    LimitQuery,
    PaymentOrderIdPath,
    ServicesDep,
)
from payments.api.reads import decode_cursor, encode_cursor, keyset_page
from payments.api.schemas import Reason
from payments.domain.api_key import Role
from payments.domain.money import format_minor
from payments.projections.followers.risk_feed import Review, RiskFeed
from payments.projections.views.order_status import OrderKey
from payments.runtime.keys import Caller
from payments.runtime.services import Services


class ReviewView(msgspec.Struct, frozen=True):
    payment_order_id: str
    checkout_id: str
    seller_account: str
    amount: str
    currency: str
    rule: str
    detail: str
    numbers: dict[str, int]
    held_at: datetime


class ReviewPage(msgspec.Struct, frozen=True):
    """Orders waiting for review, oldest first; pass next_cursor as ?cursor= for more."""

    items: list[ReviewView]
    next_cursor: str | None


class ReviewDecision(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason


class ReviewResult(msgspec.Struct, frozen=True):
    payment_order_id: str
    decision: str  # "approved" or "declined"
    position: int | None


def review_view(review: Review) -> ReviewView:
    return ReviewView(
        payment_order_id=review.payment_order_id,
        checkout_id=review.checkout_id,
        seller_account=review.seller_account,
        amount=format_minor(review.amount_minor, review.currency),
        currency=review.currency,
        rule=review.rule,
        detail=review.detail,
        numbers=review.numbers,
        held_at=review.held_at,
    )


def decide(
    services: Services, payment_order_id: str, approved: bool, reason: str, caller: Caller
) -> ReviewResult:
    position = services.risk.review(payment_order_id, approved, reason, caller.key_id)
    decision = "approved" if approved else "declined"
    return ReviewResult(payment_order_id=payment_order_id, decision=decision, position=position)


def review_page(services: Services, limit: int, cursor: str | None) -> ReviewPage:
    """Orders waiting for review, oldest first, after the opaque `cursor` (422 if bad)."""
    after = decode_cursor(cursor) if cursor is not None else None
    services.risk_feed.run_until_idle()  # what was just placed is listed at once
    view = services.risk_feed.view
    assert isinstance(view, RiskFeed)
    found = view.reviews(
        limit + 1, None if after is None else (after.created_at, after.payment_order_id)
    )
    items, last = keyset_page(found, limit)
    return ReviewPage(
        items=[review_view(r) for r in items],
        next_cursor=encode_cursor(OrderKey(last.held_at, last.payment_order_id))
        if last is not None
        else None,
    )


def decision_spec(operation_id: str, summary: str) -> dict[str, Any]:
    """The decorator of an operator's decision on an order in review (approve, decline)."""
    return {
        **spec(operation_id, summary, problems=(404, 409, 413, 422)),
        "description": "Body {reason} (1-500 characters), recorded with your key id. 404 for an "
        "unknown order, 409 when the order is not waiting for review (decided already, or "
        "never held).",
        "status_code": 200,
        **access(Role.OPERATOR),
    }


class RiskController(Controller):
    path = "/risk"
    tags = ["risk"]

    @get(
        "/reviews",
        **spec(
            "listRiskReviews",
            "Orders the risk rules hold for review, oldest first",
            problems=(422,),
        ),
        description="Keyset paging: limit (1-200, default 50) and the opaque cursor from "
        "next_cursor. Each item names the rule and the numbers that triggered it.",
        **access(Role.OPERATOR),
    )
    def list_reviews(
        self, services: ServicesDep, limit: LimitQuery = 50, cursor: CursorQuery = None
    ) -> ReviewPage:
        return review_page(services, limit, cursor)

    @post(
        "/reviews/{payment_order_id:str}/approve",
        **decision_spec(
            "approveRiskReview", "Approve an order in review: it goes on to the executor"
        ),
    )
    def approve(
        self,
        payment_order_id: PaymentOrderIdPath,
        data: JSONBody[ReviewDecision],
        services: ServicesDep,
        caller: CallerDep,
    ) -> ReviewResult:
        return decide(services, payment_order_id, True, data.reason, caller)

    @post(
        "/reviews/{payment_order_id:str}/decline",
        **decision_spec(
            "declineRiskReview",
            "Decline an order in review: it fails with blocked_by_risk, never charged",
        ),
    )
    def decline(
        self,
        payment_order_id: PaymentOrderIdPath,
        data: JSONBody[ReviewDecision],
        services: ServicesDep,
        caller: CallerDep,
    ) -> ReviewResult:
        return decide(services, payment_order_id, False, data.reason, caller)
