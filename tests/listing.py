"""Reading a keyset-paged list of the API (GET /disputes, GET /refunds): the ids an answer
lists, and those of every page, one item a page, following next_cursor."""

from __future__ import annotations

from typing import Any

import httpx

from payments.projections.audit.verify import ProjectionResult, verify_projection
from payments.projections.pg import PostgresView
from payments.projections.source import ApplicationEventSource
from tests.executor.conftest import Stack
from tests.waiting import wait_until

# Query parameters every filtered list (GET /disputes, GET /refunds) refuses with a 422.
BAD_PAGING_AND_FILTERS: list[dict[str, str]] = [
    {"cursor": "not a cursor"},
    {"limit": "0"},
    {"limit": "201"},
    {"seller_account": "a b"},
    {"payment_order_id": ""},
    {"min_position": "-1"},
]


def listed_ids(answer: httpx.Response, key: str) -> list[str]:
    """The `key` of each item an answer lists (it must be a 200)."""
    assert answer.status_code == 200, answer.text
    return [item[key] for item in answer.json()["items"]]


def every_page(http: httpx.Client, path: str, key: str, params: dict[str, Any]) -> list[str]:
    """The ids of every page of `path` asked with `params`, one item a page."""
    found: list[str] = []
    asked = {**params, "limit": 1}
    while True:
        page = http.get(path, params=asked)
        found += listed_ids(page, key)
        if page.json()["next_cursor"] is None:
            return found
        asked = {**params, "limit": 1, "cursor": page.json()["next_cursor"]}


def refused_query(answer: httpx.Response, params: dict[str, str]) -> None:
    """The answer to a list asked with one bad query parameter: a 422 problem naming it."""
    assert answer.status_code == 422, (params, answer.text)
    assert answer.headers["content-type"].startswith("application/problem+json")
    [field] = params
    assert any(field in error["field"] for error in answer.json()["errors"]), answer.text


def verified_at_head(stack: Stack, view: type[PostgresView]) -> ProjectionResult:
    """The view `view` (a list's view), once it has applied the whole log, rebuilt from the
    log and compared with its live tables."""
    live = view(stack.services.pool)
    head = stack.services.application.recorder.max_notification_id() or 0
    wait_until(lambda: live.position() >= head)
    source = ApplicationEventSource(stack.services.application)
    return verify_projection(stack.services.pool, source, view.name)
