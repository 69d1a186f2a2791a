"""Read-your-writes without asking (ADR 0011): what is in the event store is never a 404.

The app here runs with no projection at all, so the order status view never catches up by
itself: every read of a new id must come from the event store, and after the views catch up
the answer must be the same, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from payments.runtime.config import Settings
from payments.runtime.services import Services, build_services
from tests.conftest import api_client
from tests.integration.helpers import checkout_body, new_key
from tests.projections.conftest import catch_up_all

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def lagging(fresh_database_url: str) -> Iterator[tuple[Client, Services]]:
    """The app on an empty database whose views run only when the test says so."""
    url = fresh_database_url
    services = build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url)
    try:
        with api_client(services) as client:
            yield client, services
    finally:
        services.close()


def fallbacks(client: Client, resource: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'payments_read_fallbacks_total{{resource="{resource}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no read fallback counter for {resource} in /metrics")


def test_an_order_just_written_is_read_back_before_the_view_has_it(
    lagging: tuple[Client, Services],
) -> None:
    client, _ = lagging
    body = checkout_body(2)
    created = client.post("/payments", json=body, headers=new_key())
    assert created.status_code == 201, created.text
    before = fallbacks(client, "payment_order")

    for order in created.json()["payment_orders"]:
        answer = client.get(order["url"])
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "NOT_STARTED"
        assert answer.json()["checkout_id"] == body["checkout_id"]
        assert answer.json()["ledger_updated"] is False
        assert answer.json()["wallet_updated"] is False
    assert fallbacks(client, "payment_order") == before + 2


def test_the_answer_from_the_event_store_equals_the_views_answer(
    lagging: tuple[Client, Services],
) -> None:
    client, services = lagging
    body = checkout_body(3)
    created = client.post("/payments", json=body, headers=new_key()).json()
    order_url = created["payment_orders"][1]["url"]
    checkout_url = f"/checkouts/{body['checkout_id']}"
    from_events = (client.get(order_url).content, client.get(checkout_url).content)

    catch_up_all(services)
    view_fallbacks = fallbacks(client, "payment_order"), fallbacks(client, "checkout")
    from_view = (client.get(order_url).content, client.get(checkout_url).content)

    assert from_events == from_view
    assert (fallbacks(client, "payment_order"), fallbacks(client, "checkout")) == view_fallbacks


def test_a_checkout_just_written_is_read_back_with_every_order(
    lagging: tuple[Client, Services],
) -> None:
    client, _ = lagging
    body = checkout_body(3)
    client.post("/payments", json=body, headers=new_key())

    answer = client.get(f"/checkouts/{body['checkout_id']}")

    assert answer.status_code == 200, answer.text
    assert answer.json()["is_payment_done"] is False
    assert [o["payment_order_id"] for o in answer.json()["payment_orders"]] == [
        o["payment_order_id"] for o in body["payment_orders"]
    ]
    assert {o["status"] for o in answer.json()["payment_orders"]} == {"NOT_STARTED"}


def test_ids_that_were_never_written_are_still_404(lagging: tuple[Client, Services]) -> None:
    client, _ = lagging
    for path in ("/payments/po_never_written", "/checkouts/co_never_written"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"


def test_a_checkout_id_is_not_read_as_an_order(lagging: tuple[Client, Services]) -> None:
    """Ids are uuid5 of the business id per kind: a checkout's id names no order."""
    client, _ = lagging
    body = checkout_body(1)
    client.post("/payments", json=body, headers=new_key())
    assert client.get(f"/payments/{body['checkout_id']}").status_code == 404


def test_min_position_still_waits_for_status_changes(lagging: tuple[Client, Services]) -> None:
    """The fallback serves ids the view lacks; a position asks for a view that fresh."""
    client, services = lagging
    created = client.post("/payments", json=checkout_body(1), headers=new_key())
    position = created.json()["position"]
    catch_up_all(services)
    order_url = created.json()["payment_orders"][0]["url"]
    answer = client.get(order_url, params={"min_position": position})
    assert answer.status_code == 200
    assert answer.json()["status"] == "NOT_STARTED"


def test_a_position_past_the_last_event_reads_the_view_at_the_last_event(
    lagging: tuple[Client, Services],
) -> None:
    """No write has a later position than the last event, so the freshest view answers."""
    client, services = lagging
    created = client.post("/payments", json=checkout_body(1), headers=new_key())
    catch_up_all(services)
    answer = client.get(created.json()["payment_orders"][0]["url"], params={"min_position": 2**62})
    assert answer.status_code == 200, answer.text
    assert client.get("/payments", params={"min_position": 2**62}).status_code == 200
