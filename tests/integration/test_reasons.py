"""An operator's reason: one rule (domain/reasons.py), stated in the OpenAPI document as the
domain applies it, on every route that takes one.

schemathesis found the document and the domain apart: a reconciliation resolution's reason
"\\f" was schema-valid and refused (the domain stripped it to nothing); a refund's reason of a
no-break space the same. The pattern now uses explicit ranges that ECMAScript and Python read
alike, and a property checks that a JSON Schema validator and the domain agree on any text.
"""

from __future__ import annotations

import uuid
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from payments.api.console.forms import as_json_body
from payments.api.problems import ProblemError
from payments.api.seller_schemas import ReasonRequest
from payments.domain.reasons import MAX_REASON, REASON_PATTERN, reason_errors

Client = TestClient  # type: ignore[type-arg]

TRICKY = " \t\n\x0b\x0c\r\x1c\x1f\x7f\x80\x85\x9f\xa0\u1680\u2003\u2028\u202f\u3000\ufeff\u200bé"
# Lone surrogates are left out: no JSON text can carry one (the API refuses them as malformed).
texts = st.text(
    alphabet=st.sampled_from(TRICKY) | st.characters(exclude_categories=["Cs"]), max_size=8
)


@settings(max_examples=400)
@given(text=texts)
def test_a_json_schema_validator_and_the_domain_agree_on_any_reason(text: str) -> None:
    schema = {"type": "string", "minLength": 1, "maxLength": 6, "pattern": REASON_PATTERN}
    assert jsonschema_rs.is_valid(schema, text) == (reason_errors(text, 6) == []), repr(text)


def test_blank_and_control_reasons_are_refused_and_words_are_kept() -> None:
    for blank in ("", " ", "\u00a0", "\u2003 \u3000", "\ufeff"):
        assert reason_errors(blank, MAX_REASON)[0].message == "must not be empty or blank"
    for control in ("\x0c", "a\tb", "line\nbreak", "\x1b[31mred", "\x85"):
        message = reason_errors(control, MAX_REASON)[0].message
        assert message == "must not contain control characters"
    assert reason_errors("x" * 501, MAX_REASON)[0].message == "must be at most 500 characters"
    for fine in ("ok", " padded ", "Prüfung bestanden", "\u2003indented", "x" * 500):
        assert reason_errors(fine, MAX_REASON) == []


def reason_properties(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every `reason` property of a request body schema, by schema name (an optional one is a
    oneOf of string and null, its constraints beside the oneOf, where they apply to strings)."""
    return {
        name: schema["properties"]["reason"]
        for name, schema in document["components"]["schemas"].items()
        if "reason" in schema.get("properties", {})
        and not name.endswith(("Response", "View", "Answer"))
    }


def test_every_request_reason_in_the_document_carries_the_rule(client: Client) -> None:
    document = client.get("/schema/openapi.json").json()
    reasons = reason_properties(document)
    assert len(reasons) >= 5, reasons  # sellers, risk, dead letters, keys, resolutions, refunds
    for name, schema in reasons.items():
        assert schema.get("pattern") == REASON_PATTERN, (name, schema)


def test_a_blank_or_control_reason_is_a_422_naming_the_field(client: Client) -> None:
    cases = [
        ("/sellers/nobody_known/suspend", {"reason": "\u00a0"}),
        ("/reconciliations/nothing/exceptions/nothing/resolve",
         {"action": "accept_psp", "reason": "\x0c"}),
        ("/risk/reviews/po_nothing/approve", {"reason": "   "}),
        ("/dead-letters/po_nothing/replay", {"reason": "\x1b[2J"}),
    ]  # fmt: skip
    for path, body in cases:
        answer = client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert answer.status_code == 422, (path, answer.text)
        errors = [(e["field"], e["message"]) for e in answer.json()["errors"]]
        assert errors == [("reason", "must not be blank nor contain control characters")], errors


def test_a_console_form_s_blank_reason_is_refused_in_the_same_words() -> None:
    """The console checks its forms with the JSON routes' body types (api/console/forms.py)."""
    with pytest.raises(ProblemError) as refused:
        as_json_body(ReasonRequest, "reason", reason="\u00a0")
    assert [(e.field, e.message) for e in refused.value.problem.errors] == [
        ("reason", "must not be blank nor contain control characters")
    ]
