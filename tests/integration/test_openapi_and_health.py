"""OpenAPI document, /health and request ids."""

from __future__ import annotations

import re
import uuid
from importlib.metadata import version
from typing import Any

from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from payments.domain.reasons import REASON_PATTERN

Client = TestClient  # type: ignore[type-arg]


def test_openapi_documents_every_endpoint_with_its_problems(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    assert document["info"]["version"] == version("payments")  # the installed distribution's
    assert document["info"]["license"] == {"name": "Apache-2.0", "identifier": "Apache-2.0"}
    paths = document["paths"]
    assert {
        "/payments",
        "/payments/{payment_order_id}",
        "/checkouts/{checkout_id}",
        "/health",
    } <= set(paths)
    post = paths["/payments"]["post"]
    assert {"201", "400", "409", "413", "415", "422"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    body_schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["$ref"].endswith("CheckoutRequest")
    request_schema = document["components"]["schemas"]["CheckoutRequest"]
    assert set(request_schema["required"]) == {
        "buyer_info",
        "checkout_id",
        "credit_card_info",
        "payment_orders",
    }
    problem = post["responses"]["422"]["content"]["application/problem+json"]
    assert problem["schema"]["$ref"].endswith("Problem")


def test_health_checks_the_database(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "mode": "sandbox"}


def test_every_answer_carries_a_request_id_and_echoes_a_given_one(client: Client) -> None:
    assert len(client.get("/health").headers["x-request-id"]) == 32
    assert (
        client.get("/health", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    bogus = client.get("/health", headers={"X-Request-Id": "bad id with spaces"})
    assert bogus.headers["x-request-id"] != "bad id with spaces"


def test_metrics_endpoint_exposes_prometheus_text(client: Client) -> None:
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "payments_requests_total" in response.text
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    (build,) = families["payments_build_info"].samples
    assert build.labels["version"] == version("payments")
    assert (build.labels["mode"], build.value) == ("sandbox", 1.0)
    # the scheduled jobs' health, from whichever process answers (tests/scheduler has values)
    assert "payments_scheduler_job_failing" in families
    assert "payments_scheduler_last_success_timestamp_seconds" in families


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_is_named_tagged_and_answers_problems(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", operation_id) for operation_id in ids), ids
    for method, path, operation in operations(document):
        assert operation.get("tags"), (method, path)
        assert "400" in operation["responses"], (method, path)  # control characters, anywhere
        for status, answer in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert list(answer["content"]) == ["application/problem+json"], (method, path)
                schema = answer["content"]["application/problem+json"]["schema"]
                assert schema["$ref"] == "#/components/schemas/Problem"


def test_every_parameter_states_what_the_code_enforces(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            where = (method, path, parameter["name"])
            assert "oneOf" not in schema, where  # absent, not null
            if parameter["in"] == "path":
                assert "pattern" in schema or schema.get("format") == "uuid", where
            if schema.get("type") == "string" and "enum" not in schema:
                assert {"pattern", "format", "maxLength"} & set(schema), where


def test_request_types_refuse_unknown_fields_and_state_the_money_rules(client: Client) -> None:
    schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    for name in ("CheckoutRequest", "PaymentOrderRequest", "CreditCardInfo", "PayoutRequestBody"):
        assert schemas[name]["additionalProperties"] is False, name
    order = schemas["PaymentOrderRequest"]["properties"]
    assert order["currency"]["enum"] == ["USD"]
    assert re.fullmatch(order["amount"]["pattern"], "10.50")
    assert not re.fullmatch(order["amount"]["pattern"], "1e3")
    assert not re.fullmatch(order["amount"]["pattern"], "10.505")


def test_post_payments_links_to_the_reads_of_what_it_created(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    ids = {operation["operationId"] for _, _, operation in operations(document)}
    created = document["paths"]["/payments"]["post"]["responses"]["201"]
    assert {link["operationId"] for link in created["links"].values()} <= ids
    assert {"getPaymentOrder", "getCheckout"} <= set(created["links"])
    assert created["headers"]["location"]["required"] is True


def test_options_lists_every_method_of_the_path(client: Client) -> None:
    allowed = client.options("/payments").headers["allow"]
    assert {m.strip() for m in allowed.split(",")} == {"GET", "OPTIONS", "POST"}


def test_unknown_schema_paths_are_404_problems(client: Client) -> None:
    response = client.get("/schema/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value in Prometheus text (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and labels.items() <= found.labels.items():
                return float(found.value)
    return 0.0


def test_request_metrics_count_and_time_each_route_by_its_template(client: Client) -> None:
    route = {"method": "GET", "path": "/payments/{payment_order_id}", "app_name": "payments"}
    before = client.get("/metrics").text
    for missing in ("po_metrics_a", "po_metrics_b"):
        assert client.get(f"/payments/{missing}").status_code == 404
    after = client.get("/metrics").text
    for name in ("payments_requests_total", "payments_request_duration_seconds_count"):
        counted = sample(after, name, **route, status_code="404")
        assert counted - sample(before, name, **route, status_code="404") == 2, name
    assert sample(after, "payments_requests_in_progress", **route, status_code="200") == 0
    assert "payments_requests_error_total" in after


def test_request_strings_state_that_they_hold_no_nul(client: Client) -> None:
    """What api/edge.py refuses, the document says (api/openapi_text.py)."""
    schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    no_nul = "^[^\\u0000]*$"
    assert schemas["DisputeEvidenceRequest"]["properties"]["text"]["pattern"] == no_nul
    reason = schemas["RevokeKeyRequest"]["properties"]["reason"]["pattern"]
    assert reason == REASON_PATTERN  # its own pattern (tests/integration/test_reasons.py)
    assert schemas["CreateKeyRequest"]["properties"]["name"]["pattern"] == "^[^\\x00-\\x1f]*$"
    own = schemas["CreateKeyRequest"]["properties"]["seller_account"]["pattern"]
    assert own == "^[A-Za-z0-9_-]+$"  # a pattern of its own admits no NUL already
    buyer_info = schemas["CheckoutRequest"]["properties"]["buyer_info"]
    assert buyer_info == {"type": "object", "additionalProperties": {}}  # sealed: any JSON
    assert "pattern" not in schemas["KeyView"]["properties"]["name"]  # answers are not bodies


def test_a_seller_key_s_rule_is_stated_between_its_fields(client: Client) -> None:
    """A seller key names its seller_account, no other key does: the document says so
    (if/then/else), and the route keeps to it."""
    schema = client.get("/schema/openapi.json").json()["components"]["schemas"]["CreateKeyRequest"]
    assert schema["if"] == {"properties": {"role": {"const": "seller"}}, "required": ["role"]}
    assert schema["then"]["required"] == ["seller_account"]
    assert schema["else"]["properties"]["seller_account"] == {"type": "null"}
    for body in ({"role": "seller"}, {"role": "admin", "seller_account": "seller_a"}):
        refused = client.post("/keys", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert refused.status_code == 422, refused.text
    made = client.post(
        "/keys",
        json={"role": "seller", "seller_account": "seller_a"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert made.status_code == 201, made.text


def test_a_body_that_may_be_left_out_is_not_required_in_the_document(client: Client) -> None:
    """A body declared `X | None = None` (a replay's or a revocation's reason) may be left
    out, and the document says so (Litestar marked it required: schemathesis then found a
    replay without a body accepted, once seeded ids let it reach one)."""
    document = client.get("/schema/openapi.json").json()
    optional = sorted(
        (path, method)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("requestBody", {}).get("required") is False
    )
    assert ("/dead-letters/payouts/{payout_id}/replay", "post") in optional
    assert ("/keys/{key_id}/revoke", "post") in optional
    for path, _ in optional:
        url = re.sub(r"\{[^}]+\}", "nothingthere", path)  # also a key id's shape
        answer = client.post(url, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert answer.status_code == 404, (path, answer.text)  # the body was not missed
    required = document["paths"]["/payouts"]["post"]["requestBody"]["required"]
    assert required is True  # a body that must be sent still says so


def test_a_missing_body_is_named_in_words_and_an_optional_one_is_not_blamed(
    client: Client,
) -> None:
    """Litestar names a missing body `'data'`: a required one is said to be required, and an
    optional one is not listed when another field fails."""
    key = {"Idempotency-Key": uuid.uuid4().hex}
    missing = client.post("/payouts", headers=key)
    assert missing.status_code == 422, missing.text
    assert missing.json()["errors"] == [{"field": "body", "message": "a JSON body is required"}]
    bad_id = client.post("/dead-letters/payouts/%20/replay", headers=key)
    assert bad_id.status_code == 422, bad_id.text
    assert [e["field"] for e in bad_id.json()["errors"]] == ["payout_id"]
