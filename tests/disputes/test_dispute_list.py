"""GET /disputes over real HTTP: disputes opened at the sandbox PSP and confirmed by look-up,
listed newest first or soonest deadline first, filtered, paged, each item what GET
/payments/{id}/dispute answers; the disputes view verified against history; /metrics shows
what awaits evidence. This module's stack holds its disputes alone."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from payments.projections.views.disputes import DisputesView
from tests import listing
from tests.conftest import bearer
from tests.disputes.test_dispute_flows import admin_dispute, captured_order, dispute_shown, evidence
from tests.executor.conftest import Stack
from tests.listing import BAD_PAGING_AND_FILTERS, listed_ids, refused_query, verified_at_head


@pytest.fixture(scope="module")
def opened(stack: Stack) -> list[dict[str, Any]]:
    """Three disputes, oldest first: the second answered with evidence (under review), the
    others awaiting it; each as GET /payments/{id}/dispute shows it, once listed."""
    shown = []
    for number in range(3):
        order_id = captured_order(stack, amount=f"{10 + number}.00")
        admin_dispute(stack, order_id)
        shown.append(dispute_shown(stack, order_id, "needs_response"))
    answered = evidence(stack, shown[1]["payment_order_id"], "a receipt, under review")
    assert answered.status_code == 202, answered.text
    shown[1] = answered.json()
    position = answered.headers["event-position"]
    found = stack.http.get("/disputes", params={"min_position": position})
    assert found.status_code == 200, found.text
    assert len(found.json()["items"]) == 3
    return shown


def ids(answer: httpx.Response) -> list[str]:
    return listed_ids(answer, "dispute_id")


def every_page(stack: Stack, params: dict[str, Any]) -> list[str]:
    """The dispute ids of every page, one dispute a page, following next_cursor."""
    return listing.every_page(stack.http, "/disputes", "dispute_id", params)


def test_each_item_is_the_orders_dispute(stack: Stack, opened: list[dict[str, Any]]) -> None:
    for shown in opened:
        order_id = shown["payment_order_id"]
        answer = stack.http.get("/disputes", params={"payment_order_id": order_id})
        assert answer.json()["items"] == [stack.http.get(f"/payments/{order_id}/dispute").json()]
        assert shown["seller_account"] == f"seller_{order_id.removesuffix('_0')}"
    assert opened[1]["status"] == "under_review"
    assert opened[1]["evidence_submitted_at"] is not None


def test_newest_or_soonest_deadline_first_and_paged(
    stack: Stack, opened: list[dict[str, Any]]
) -> None:
    made = [shown["dispute_id"] for shown in opened]
    dues = [datetime.fromisoformat(shown["evidence_due_by"]) for shown in opened]
    assert dues == sorted(dues), "each opened later, each due later"
    assert ids(stack.http.get("/disputes")) == made[::-1]
    assert every_page(stack, {}) == made[::-1]
    assert ids(stack.http.get("/disputes", params={"order": "due"})) == made
    assert every_page(stack, {"order": "due"}) == made
    waiting = {"status": "needs_response", "order": "due"}
    assert every_page(stack, waiting) == [made[0], made[2]]
    reviewed = stack.http.get("/disputes", params={"status": "under_review"})
    assert ids(reviewed) == [made[1]]
    assert ids(stack.http.get("/disputes", params={"status": "won"})) == []


def test_filters_by_deadline_and_seller(stack: Stack, opened: list[dict[str, Any]]) -> None:
    made = [shown["dispute_id"] for shown in opened]
    third_due = datetime.fromisoformat(opened[2]["evidence_due_by"])
    before_third = {"due_before": third_due.isoformat(), "order": "due"}
    assert ids(stack.http.get("/disputes", params=before_third)) == made[:2]
    just_after = {"due_before": (third_due + timedelta(microseconds=1)).isoformat()}
    assert ids(stack.http.get("/disputes", params=just_after)) == made[::-1]
    seller = {"seller_account": opened[2]["seller_account"]}
    assert ids(stack.http.get("/disputes", params=seller)) == [made[2]]
    assert ids(stack.http.get("/disputes", params={"seller_account": "nobody"})) == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "open"},
        {"order": "oldest"},
        {"due_before": "tomorrow"},
        {"due_before": "2026-12-07T10:00:00"},  # no offset
        {"cursor": base64.urlsafe_b64encode(b"[1]").decode().rstrip("=")},
        {"cursor": base64.urlsafe_b64encode(b'[0,"2026-12-07T10:00:00+00:00"]').decode()},
        {"cursor": base64.urlsafe_b64encode(b'[5,"2026-12-07T10:00:00"]').decode().rstrip("=")},
        *BAD_PAGING_AND_FILTERS,
    ],
)
def test_bad_queries_are_422_problems(
    stack: Stack, opened: list[dict[str, Any]], params: dict[str, str]
) -> None:
    refused_query(stack.http.get("/disputes", params=params), params)


def test_roles_that_may_list_and_a_seller_its_own(
    stack: Stack, opened: list[dict[str, Any]]
) -> None:
    for role in ("merchant", "operator", "finance"):
        answer = stack.http.get("/disputes", headers=bearer(stack.services, role))
        assert answer.status_code == 200, (role, answer.text)
    own = opened[0]["seller_account"]
    seller = bearer(stack.services, "seller", own)
    assert ids(stack.http.get("/disputes", headers=seller)) == [opened[0]["dispute_id"]]
    asked = stack.http.get("/disputes", params={"seller_account": own}, headers=seller)
    assert ids(asked) == [opened[0]["dispute_id"]]
    other = {"seller_account": opened[1]["seller_account"]}
    assert stack.http.get("/disputes", params=other, headers=seller).status_code == 404
    theirs = {"payment_order_id": opened[1]["payment_order_id"]}
    assert ids(stack.http.get("/disputes", params=theirs, headers=seller)) == []
    assert httpx.get(f"{stack.api_url}/disputes").status_code == 401


def test_metrics_show_what_awaits_evidence(stack: Stack, opened: list[dict[str, Any]]) -> None:
    text = stack.http.get("/metrics").text
    assert "payments_disputes_awaiting_evidence 2.0" in text
    [line] = [x for x in text.splitlines() if x.startswith("payments_dispute_evidence_due_seconds")]
    due_in = float(line.split()[1])
    assert 0 < due_in <= 3600, "the sandbox's window is an hour, and the first is soonest"


def test_the_view_verifies_against_history(stack: Stack, opened: list[dict[str, Any]]) -> None:
    result = verified_at_head(stack, DisputesView)
    assert result.identical, result
    assert [(t.table, t.live_rows) for t in result.tables] == [
        ("disputes", 3),
        ("disputes_tracking", 1),
    ]
