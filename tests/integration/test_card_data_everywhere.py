"""Card data is refused in the body of every route that takes one, not only a checkout's: a
refund's reason, a risk decision, a webhook endpoint's description, a resolution's note, a
console form's field. Each route of the app is tried (so a route added later is tried too),
and nothing of what was sent is stored."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from litestar.testing import TestClient

from payments.api.app import create_app
from payments.api.console.session import CSRF_COOKIE
from payments.domain.api_key import Role
from payments.runtime.services import Services
from tests.integration.test_card_data_never_stored import dump_database_text

Client = TestClient  # type: ignore[type-arg]
PAN = "4000 0566 5566 5556"  # a test Visa debit card, printed in groups
# Path parameters that hold a UUID this API returned; any other holds one of our ids.
UUID_PARAMETERS = {
    "run_id",
    "endpoint_id",
    "delivery_id",
    "key_id",
    "verification_id",
    "erasure_id",
}
# The PSP's signed webhooks and its settlement files are read as bytes, from the PSP.
NOT_JSON = {"/webhooks/psp", "/reconciliations", "/reconciliations/dry-run"}


def body_routes(client: Client, prefix: str) -> list[tuple[str, str]]:
    """(method, path) of every route under `prefix` whose handler takes a body (`data`)."""
    found = []
    for route in client.app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if "data" not in handler.parsed_fn_signature.parameters:
                continue
            for method in sorted(set(handler.http_methods) & {"POST", "PATCH", "PUT"}):
                if route.path.startswith(prefix) and route.path not in NOT_JSON:
                    found.append((method, filled(route.path)))
    return found


def filled(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(uuid.uuid4()) if name in UUID_PARAMETERS else f"card_test_{name}"

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


@pytest.fixture
def as_admin(services: Services) -> Client:
    from tests.conftest import bearer

    client = TestClient(app=create_app(services), raise_server_exceptions=False)
    client.headers.update(bearer(services, "admin"))
    return client


def test_every_json_route_refuses_a_card_number_in_any_field(
    as_admin: Client, services: Services
) -> None:
    routes = body_routes(as_admin, "/")
    routes = [(m, p) for m, p in routes if not p.startswith("/console")]
    assert len(routes) >= 20, routes
    assert ("POST", "/payments/card_test_payment_order_id/refunds") in routes
    bodies: list[Any] = [
        {"reason": f"refund of card {PAN}"},
        {"description": "ok", "nested": [{"note": PAN.replace(" ", "")}]},
        {"cvc": "123"},
    ]
    with as_admin:
        for method, path in routes:
            for body in bodies:
                answer = as_admin.request(
                    method, path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
                )
                assert answer.status_code == 422, (method, path, answer.text)
                assert answer.json()["type"].endswith("/card-data-refused"), (path, answer.text)
                assert PAN not in answer.text
                assert PAN.replace(" ", "") not in answer.text
    dumped = dump_database_text(services)
    assert PAN not in dumped
    assert PAN.replace(" ", "") not in dumped


def test_every_console_form_refuses_a_card_number_in_any_field(services: Services) -> None:
    key, _ = services.issue_key(Role.ADMIN, None, "card test", by="cli")
    with TestClient(app=create_app(services), raise_server_exceptions=False) as console:
        console.get("/console/sign-in")  # sets the CSRF cookie
        token = {"x-csrf-token": console.cookies[CSRF_COOKIE], "accept": "text/html"}
        signed_in = console.post("/console/sign-in", data={"key": key.text}, headers=token)
        assert signed_in.status_code == 200, signed_in.text
        assert "Overview" in signed_in.text, "signed in, shown the overview"
        routes = body_routes(console, "/console")
        assert ("POST", "/console/orders/card_test_payment_order_id/refund") in routes
        form = {"reason": f"as asked {PAN}", "confirm": "yes", "form_id": "0" * 32}
        for method, path in routes:
            if path == "/console/sign-in":
                continue
            answer = console.request(method, path, data=form, headers=token)
            assert answer.status_code == 422, (path, answer.text)
            assert "Never send card numbers" in answer.text, path
            assert PAN not in answer.text
    assert PAN not in dump_database_text(services)
