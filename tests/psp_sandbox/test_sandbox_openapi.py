from __future__ import annotations

from typing import Any

import httpx

from tests.psp_sandbox.conftest import SandboxStarter

PUBLIC = {"getHealth", "showHostedCardForm", "submitHostedCardForm"}
IDEMPOTENT_CREATES = {"createCharge", "createPayout", "createRefund", "createAccount"}
# Answers that are not problems: a declined charge is a charge, a processing error is Stripe's
# error shape, the hosted page answers HTML.
NOT_PROBLEMS = {("createCharge", "402"), ("createCharge", "503"), ("submitHostedCardForm", "422")}


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"] not in found, operation["operationId"]
            found[operation["operationId"]] = (path, method, operation)
    return found


def test_every_operation_has_an_id_tag_summary_and_problem_answers(
    client: httpx.Client,
) -> None:
    answer = client.get("/schema/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    tags = {tag["name"] for tag in document["tags"]}
    operations = _operations(document)
    assert set(operations) >= PUBLIC | IDEMPOTENT_CREATES
    for operation_id, (_, _, operation) in operations.items():
        (tag,) = operation["tags"]
        assert tag in tags, operation_id
        assert operation["summary"], operation_id
        responses = operation["responses"]
        assert any(status.startswith("2") for status in responses), operation_id
        for status, response in responses.items():
            content = response.get("content", {})
            if status.startswith("2"):
                assert content or status == "204", (operation_id, status)
            elif (operation_id, status) not in NOT_PROBLEMS:
                assert list(content) == ["application/problem+json"], (operation_id, status)
                schema = content["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}
        if operation_id in PUBLIC:
            assert "security" not in operation, operation_id
            assert "401" not in responses, operation_id
        else:
            assert {"bearerAuth": []} in operation["security"], operation_id
            assert "401" in responses, operation_id
        if "requestBody" in operation:
            (media_type,) = operation["requestBody"]["content"]
            body = operation["requestBody"]["content"][media_type]["schema"]
            assert "$ref" in body or "oneOf" in body, operation_id
        if operation_id in IDEMPOTENT_CREATES:
            (key,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
            assert (key["in"], key["required"]) == ("header", True)
            assert {"400", "409", "422"} <= set(responses)
    schemas = document["components"]["schemas"]
    assert schemas["ChargeRequest"]["additionalProperties"] is False
    iban, us_account = schemas["BankTokenRequest"]["oneOf"]  # exactly one, a null being absent
    assert (iban["required"], us_account["required"]) == (
        ["iban"],
        ["account_number", "routing_number"],
    )
    assert (
        iban["properties"]["account_number"] == us_account["properties"]["iban"] == {"type": "null"}
    )
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail"}
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "only once" in scheme["description"]


def test_the_document_says_anonymous_calls_work_until_a_key_is_set(
    client: httpx.Client, start_sandbox: SandboxStarter
) -> None:
    open_operations = _operations(client.get("/schema/openapi.json").json())
    assert open_operations["createCharge"][2]["security"] == [{"bearerAuth": []}, {}]
    keyed = start_sandbox(api_key="sk_test_openapi")
    document = httpx.get(f"{keyed.base_url}/schema/openapi.json", timeout=10).json()
    assert _operations(document)["createCharge"][2]["security"] == [{"bearerAuth": []}]


def test_the_settlement_file_parameters_say_what_the_code_enforces(client: httpx.Client) -> None:
    """The file name's shape is stated (another name is a 404, not a parameter's 400), and the
    optional currency is a string: a query parameter is never null."""
    (_, _, operation) = _operations(client.get("/schema/openapi.json").json())["getSettlementFile"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert parameters["file_name"]["schema"]["pattern"] == r"^([0-9]{4}-[0-9]{2}-[0-9]{2})\.csv$"
    assert "404" in operation["responses"]
    currency = parameters["currency"]["schema"]
    assert (currency["type"], currency["pattern"], "oneOf" in currency) == (
        "string",
        "^[A-Z]{3}$",
        False,
    )
    assert client.get("/v1/settlements/2026-13-01.csv").status_code == 404
    assert (
        client.get("/v1/settlements/2026-01-01.csv", params={"currency": "usd"}).status_code == 400
    )


def test_options_names_every_method_of_a_path(client: httpx.Client) -> None:
    for path, allowed in [
        ("/v1/payouts", "GET, OPTIONS, POST"),
        ("/admin/faults", "DELETE, GET, OPTIONS, POST"),
        ("/v1/hosted/card", "GET, OPTIONS, POST"),
    ]:
        answer = client.options(path)
        assert (answer.status_code, answer.headers["Allow"]) == (204, allowed)
        not_allowed = client.request("PATCH", path)
        assert not_allowed.status_code == 405
        assert not_allowed.headers["content-type"].startswith("application/problem+json")


# schemathesis against the sandbox (every check, the stateful phase included) runs in
# tests/conformance/test_sandbox_schemathesis.py, with its per-operation config beside it.


def test_an_empty_body_is_a_400_problem_naming_the_body(client: httpx.Client) -> None:
    """Not Litestar's "'data'" (the text of a KeyError): the body itself, and what it lacks."""
    for path, headers in [("/v1/tokens", {}), ("/v1/charges", {"Idempotency-Key": "empty-1"})]:
        answer = client.post(path, headers={"Content-Type": "application/json", **headers})
        assert answer.status_code == 400, (path, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["errors"] == [
            {"field": "", "message": "the body is empty; a JSON object is required"}
        ]


def test_a_header_that_does_not_validate_is_named_as_sent(client: httpx.Client) -> None:
    key: str | bytes
    body = {"amount": 100, "currency": "USD", "token": "tok_" + "a" * 24, "reference": "r"}
    for key in ["with space", "é".encode(), "k" * 256]:
        answer = client.post("/v1/charges", json=body, headers={"Idempotency-Key": key})
        assert answer.status_code == 400, (key, answer.text)
        assert [e["field"] for e in answer.json()["errors"]] == ["header.Idempotency-Key"]
