"""Bad input to every sellers route: a 4xx problem naming the field, nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.executor.conftest import Stack
from tests.integration.helpers import event_count
from tests.payouts.helpers import VERIFIED_ID, onboard, seller, seller_body

IBAN = "DE89370400440532013000"


def _post(stack: Stack, body: Any, key: str | None = "k") -> Any:
    headers = {} if key is None else {"Idempotency-Key": f"{key}-{seller()}"}
    return stack.http.post("/sellers", json=body, headers=headers)


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"bank_token": IBAN}, 422, "bank_token"),
        ({"legal_name": f"Shop, IBAN {IBAN[:4]} {IBAN[4:8]} {IBAN[8:]}"}, 422, None),
        ({"iban": IBAN}, 422, "iban"),
        ({"contact": {"email": "a@b.c", "account_number": "000123456789"}}, 422, None),
        ({"legal_name": "000123456789"}, 422, "legal_name"),
        ({"legal_name": "4242 4242 4242 4242"}, 422, "legal_name"),
        ({"country": "Germany"}, 422, "country"),
        ({"bank_token": "tok_abc"}, 422, "bank_token"),
        ({"seller_account": "bad id!"}, 422, "seller_account"),
        ({"contact": {"email": "not-an-email"}}, 422, None),
        ({"unknown": 1}, 422, None),
    ],
)
def test_a_bad_seller_is_refused_and_nothing_is_written(
    stack: Stack, change: dict[str, Any], status: int, field: str | None
) -> None:
    body = {**seller_body(stack, seller("bad"), VERIFIED_ID), **change}
    before = event_count(stack.services.pool)
    answer = _post(stack, body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert any(field in e["field"] for e in answer.json().get("errors", [])), answer.text
    assert IBAN not in answer.text
    assert event_count(stack.services.pool) == before


def test_posting_a_seller_needs_an_idempotency_key(stack: Stack) -> None:
    answer = _post(stack, seller_body(stack, seller("nokey"), VERIFIED_ID), key=None)
    assert answer.status_code == 400, answer.text


def test_bad_input_to_the_other_routes_is_a_problem(stack: Stack) -> None:
    account = seller("in")
    onboard(stack, account, VERIFIED_ID)
    before = event_count(stack.services.pool)
    cases = [
        stack.http.get("/sellers/nobody_here"),
        stack.http.get("/sellers/bad id"),
        stack.http.get("/sellers?limit=0"),
        stack.http.get("/sellers?kyc_status=maybe"),
        stack.http.patch("/sellers/nobody_here", json={"legal_name": "x"}),
        stack.http.patch(f"/sellers/{account}", json={"bank_token": IBAN}),
        stack.http.patch(f"/sellers/{account}", json={"phone": "1"}),
        stack.http.post(f"/sellers/{account}/suspend", json={}),
        stack.http.post(f"/sellers/{account}/suspend", json={"reason": ""}),
        stack.http.post("/sellers/nobody_here/suspend", json={"reason": "x"}),
        stack.http.post(f"/sellers/{account}/reinstate", json={"why": "x"}),
    ]
    statuses = [answer.status_code for answer in cases]
    assert statuses == [404, 422, 422, 422, 404, 422, 422, 422, 422, 404, 422], [
        a.text for a in cases
    ]
    assert all(a.headers["content-type"].startswith("application/problem+json") for a in cases)
    assert event_count(stack.services.pool) == before
