"""GET /refunds over real HTTP: refunds executed at the sandbox PSP (one succeeded, one
refused by the PSP, one still pending after its last retry), listed newest first, filtered by
status, order and seller, paged, each item what GET /refunds/{id} answers; a seller key its
own; the refunds view verified against history. This module's stack holds its refunds alone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from payments.domain.payment_order import Status
from payments.projections.views.refunds import RefundsView
from tests import listing
from tests.conftest import bearer
from tests.executor.conftest import Stack
from tests.executor.helpers import place
from tests.listing import BAD_PAGING_AND_FILTERS, listed_ids, refused_query, verified_at_head
from tests.refunds.helpers import FAILING_REFUNDS_CARD, captured_order, post_refund, refund


@pytest.fixture(scope="module")
def made(stack: Stack) -> list[dict[str, Any]]:
    """Three refunds, oldest first, each as POST answered it: SUCCEEDED (seller_0), FAILED at
    the PSP (seller_0), PENDING (seller_1: dead-lettered after the PSP's 503s)."""
    first, second = place(stack, stack.sandbox.token("success"), ["10.00", "5.00"])
    stack.settle(lambda: stack.order(second).status is Status.SUCCESS)
    stack.settle(lambda: stack.order(first).status is Status.SUCCESS)
    refused = captured_order(stack, "6.00", card=FAILING_REFUNDS_CARD)
    answers = [post_refund(stack, first, {"amount": "3.00"})]
    answers.append(post_refund(stack, refused))
    stack.settle(lambda: all(refund(stack, a.json()["refund_id"]).is_terminal for a in answers))
    with stack.sandbox.faulty(kind="status", status=503, count=100, endpoint="refunds"):
        answers.append(post_refund(stack, second, {"amount": "2.00", "reason": "late"}))
        stack.settle(lambda: refund(stack, answers[-1].json()["refund_id"]).dead_lettered)
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    return [a.json() for a in answers]


def ids(answer: httpx.Response) -> list[str]:
    return listed_ids(answer, "refund_id")


def every_page(stack: Stack, params: dict[str, Any]) -> list[str]:
    """The refund ids of every page, one refund a page, following next_cursor."""
    return listing.every_page(stack.http, "/refunds", "refund_id", params)


def test_newest_first_each_item_as_its_own_read(stack: Stack, made: list[dict[str, Any]]) -> None:
    refund_ids = [r["refund_id"] for r in made]
    listed = stack.http.get("/refunds")
    assert ids(listed) == refund_ids[::-1]
    assert every_page(stack, {}) == refund_ids[::-1]
    for item in listed.json()["items"]:
        assert item == stack.http.get(f"/refunds/{item['refund_id']}").json()
    assert [item["status"] for item in listed.json()["items"]] == [
        "PENDING",
        "FAILED",
        "SUCCEEDED",
    ]
    assert [item["seller_account"] for item in listed.json()["items"]] == [
        "seller_1",
        "seller_0",
        "seller_0",
    ]


def test_filters_by_status_order_and_seller(stack: Stack, made: list[dict[str, Any]]) -> None:
    first, refused, pending = (r["refund_id"] for r in made)
    for status, expected in (("SUCCEEDED", first), ("FAILED", refused), ("PENDING", pending)):
        assert ids(stack.http.get("/refunds", params={"status": status})) == [expected]
    by_order = {"payment_order_id": made[1]["payment_order_id"]}
    assert ids(stack.http.get("/refunds", params=by_order)) == [refused]
    seller_0 = {"seller_account": "seller_0"}
    assert every_page(stack, seller_0) == [refused, first]
    failed_of_0 = {**seller_0, "status": "FAILED"}
    assert ids(stack.http.get("/refunds", params=failed_of_0)) == [refused]
    assert ids(stack.http.get("/refunds", params={"seller_account": "nobody"})) == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending"},
        {"status": "EXECUTING"},
        {"cursor": "-1"},
        *BAD_PAGING_AND_FILTERS,
    ],
)
def test_bad_queries_are_422_problems(
    stack: Stack, made: list[dict[str, Any]], params: dict[str, str]
) -> None:
    refused_query(stack.http.get("/refunds", params=params), params)


def test_roles_that_may_list_and_a_seller_its_own(stack: Stack, made: list[dict[str, Any]]) -> None:
    for role in ("merchant", "operator", "finance"):
        answer = stack.http.get("/refunds", headers=bearer(stack.services, role))
        assert answer.status_code == 200, (role, answer.text)
    seller = bearer(stack.services, "seller", "seller_1")
    assert ids(stack.http.get("/refunds", headers=seller)) == [made[2]["refund_id"]]
    asked = stack.http.get("/refunds", params={"seller_account": "seller_1"}, headers=seller)
    assert ids(asked) == [made[2]["refund_id"]]
    other = {"seller_account": "seller_0"}
    assert stack.http.get("/refunds", params=other, headers=seller).status_code == 404
    theirs = {"payment_order_id": made[1]["payment_order_id"]}
    assert ids(stack.http.get("/refunds", params=theirs, headers=seller)) == []
    assert httpx.get(f"{stack.api_url}/refunds").status_code == 401


def test_the_view_verifies_against_history(stack: Stack, made: list[dict[str, Any]]) -> None:
    result = verified_at_head(stack, RefundsView)
    assert result.identical, result
    live = {t.table: t.live_rows for t in result.tables}
    assert live["refunds"] >= 3
    assert live["refunds_tracking"] == 1


def test_a_new_refund_is_listed_at_the_position_its_post_answered(  # last: it adds one
    stack: Stack, made: list[dict[str, Any]]
) -> None:
    order_id = made[0]["payment_order_id"]
    created = post_refund(stack, order_id, {"amount": "1.00"})
    assert created.status_code == 201, created.text
    position = created.headers["event-position"]
    listed = stack.http.get("/refunds", params={"min_position": position, "limit": 1})
    assert ids(listed) == [created.json()["refund_id"]]
    stack.settle(lambda: refund(stack, created.json()["refund_id"]).is_terminal)
