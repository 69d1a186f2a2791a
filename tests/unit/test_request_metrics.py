"""Request metrics: each answer counted and timed under its route's template and status;
a server error also counted as an error, a request that raises as a 500; the in-progress
gauge back at zero once the request ends."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pytest
from prometheus_client import REGISTRY

from payments.api.request_metrics import request_metrics_middleware

ROUTE = {"method": "POST", "path": "/metrics-test/{item_id}", "app_name": "payments"}


def value(name: str, status: int) -> float:
    found = REGISTRY.get_sample_value(name, {**ROUTE, "status_code": str(status)})
    return found or 0.0


def run_to_end(step: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never waits on anything, without an event loop (the suite's
    browser tests leave one running on this thread, where asyncio.run refuses to start)."""
    try:
        step.send(None)
    except StopIteration:
        return
    raise AssertionError("the middleware waited on something")


def call(status: int | None, template: str | None = ROUTE["path"]) -> None:
    """One request through the middleware to an app answering `status` (None: it raises),
    routed to `template` (None: to no route)."""
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert value("payments_requests_in_progress", 200) == (template is not None)
        if status is None:
            raise RuntimeError("the handler failed")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/metrics-test/7"}
    if template is not None:
        scope["path_template"] = template
    run_to_end(request_metrics_middleware(app)(scope, receive, send))  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


@pytest.mark.parametrize(("status", "errors"), [(201, 0), (404, 0), (503, 1)])
def test_an_answer_is_counted_timed_and_an_error_only_when_it_is_a_server_error(
    status: int, errors: int
) -> None:
    before = [
        value(n, status) for n in ("payments_requests_total", "payments_requests_error_total")
    ]
    timed = value("payments_request_duration_seconds_count", status)
    for _ in range(2):
        call(status)
    assert value("payments_requests_total", status) - before[0] == 2
    assert value("payments_requests_error_total", status) - before[1] == 2 * errors
    assert value("payments_request_duration_seconds_count", status) - timed == 2
    assert value("payments_requests_in_progress", 200) == 0


def test_a_request_that_raises_is_counted_as_a_500_and_leaves_nothing_in_progress() -> None:
    before = value("payments_requests_error_total", 500)
    with pytest.raises(RuntimeError):
        call(None)
    assert value("payments_requests_error_total", 500) - before == 1
    assert value("payments_requests_in_progress", 200) == 0


def test_a_request_no_route_matched_is_counted_under_one_label_never_its_path() -> None:
    unmatched = {**ROUTE, "path": "<unmatched>", "status_code": "404"}
    before = REGISTRY.get_sample_value("payments_requests_total", unmatched) or 0.0
    call(404, template=None)
    assert REGISTRY.get_sample_value("payments_requests_total", unmatched) == before + 1
    raw = {**unmatched, "path": "/metrics-test/7"}
    assert REGISTRY.get_sample_value("payments_requests_total", raw) is None
