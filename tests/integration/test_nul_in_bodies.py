"""U+0000 in a JSON body is refused at the edge, on every route that reads one: PostgreSQL's
text cannot hold it, and an event holding one stopped the views that store that text (a
schemathesis run suspended a seller with the reason "\\u0000«", and every later read of
/audit/actions answered 500)."""

from __future__ import annotations

import json
import uuid

import pytest
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from payments.domain.seller_commands import RegisterSeller
from payments.runtime.services import Services
from tests.integration.helpers import checkout_body

Client = TestClient  # type: ignore[type-arg]

# Routes whose body is not JSON for the app to decode: a settlement file, a signed webhook
# (its own checks: tests/security), the console's forms.
NOT_JSON = ("/reconciliations", "/reconciliations/dry-run", "/webhooks/psp", "/console")


def body_routes(client: Client) -> list[tuple[str, str]]:
    """(method, path) of every route whose handler takes a body (`data`), read from the app."""
    return sorted(
        (method, route.path.replace(":str", ""))
        for route in client.app.routes
        if isinstance(route, HTTPRoute) and not route.path.startswith(NOT_JSON)
        for handler in route.route_handlers
        if "data" in handler.parsed_fn_signature.parameters
        for method in handler.http_methods
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "a\x00b"}, "reason"),
        ({"payment_orders": [{"seller_account": "s"}, {"seller_account": "\x00"}]},
         "payment_orders[1].seller_account"),
        ({"na\x00me": "Ada"}, "na\\u0000me"),
        ("\x00", "body"),
    ],
)  # fmt: skip
def test_every_json_route_refuses_a_nul_naming_where(
    client: Client, body: object, field: str
) -> None:
    routes = body_routes(client)
    assert ("POST", "/payments") in routes
    assert len(routes) >= 15
    for method, template in routes:
        url = template.replace("{", "").replace("}", "")  # any id: the body is read first
        response = client.request(
            method,
            url,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 400, (method, url, response.text)
        problem = response.json()
        assert problem["type"].endswith("/control-character"), (method, url, problem)
        assert problem["errors"] == [
            {"field": field, "message": "contains the control character U+0000"}
        ], (method, url)


def test_a_suspension_for_a_nul_reason_is_not_recorded_and_the_views_read_on(
    client: Client, services: Services
) -> None:
    account = f"s_{uuid.uuid4().hex[:12]}"
    services.sellers.register(RegisterSeller(account, "DE", "btok_abcd", {}, "key1"))
    refused = client.post(f"/sellers/{account}/suspend", json={"reason": "\x00«\x16"})
    assert refused.status_code == 400, refused.text
    assert services.sellers.get(account).suspended is False
    suspended = client.post(f"/sellers/{account}/suspend", json={"reason": "fraud «review»"})
    assert suspended.status_code == 200, suspended.text
    actions = client.get("/audit/actions")  # it caught up with the log: none stopped it
    assert actions.status_code == 200, actions.text
    assert "seller.suspended" in {action["action"] for action in actions.json()["actions"]}


def test_a_checkout_s_sealed_buyer_info_may_hold_a_nul_but_not_its_buyer_id(
    client: Client,
) -> None:
    body = checkout_body(1)
    body["buyer_info"] = {"name": "Ada\x00", "buyer_id": "b_1", "notes": [{"\x00": "x"}]}
    placed = client.post("/payments", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert placed.status_code == 201, placed.text  # sealed: stored as ciphertext only
    body = checkout_body(1)
    body["buyer_info"] = {"buyer_id": "b\x00"}  # names the buyer's key, kept as text
    refused = client.post("/payments", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["buyer_info.buyer_id"]
    assert client.get(f"/checkouts/{body['checkout_id']}").status_code == 404
