"""Property: no generated request body makes POST /payments answer 5xx."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from tests.integration.helpers import checkout_body, new_key

Client = TestClient  # type: ignore[type-arg]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
amounts = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"-?[0-9]{0,20}(\.[0-9]{0,5})?", fullmatch=True),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
ids = st.one_of(st.text(max_size=70), st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))


@st.composite
def near_valid_bodies(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = checkout_body(draw(st.integers(1, 3)))
    for order in body["payment_orders"]:
        if draw(st.booleans()):
            order["amount"] = draw(amounts)
        if draw(st.booleans()):
            order["payment_order_id"] = draw(ids)
        if draw(st.booleans()):
            order["currency"] = draw(
                st.sampled_from(["USD", "EUR", "usd", "", "JPY"]) | st.text(max_size=4)
            )
        if draw(st.booleans()):
            order["seller_account"] = draw(ids | json_values)
    if draw(st.booleans()):
        body["checkout_id"] = draw(ids | json_values)
    if draw(st.booleans()):
        body["credit_card_info"] = draw(json_values | st.fixed_dictionaries({"token": ids}))
    if draw(st.booleans()):
        body["buyer_info"] = draw(json_values)
    if draw(st.booleans()):
        body[draw(st.text(max_size=8))] = draw(json_values)
    return body


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=near_valid_bodies() | json_values)
def test_no_generated_body_yields_5xx(client: Client, body: Any) -> None:
    response = client.post("/payments", json=body, headers=new_key())
    assert response.status_code < 500, (response.status_code, response.text, json.dumps(body)[:500])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    raw=st.binary(max_size=300), media_type=st.sampled_from(["application/json", "text/plain", ""])
)
def test_no_raw_bytes_yield_5xx(client: Client, raw: bytes, media_type: str) -> None:
    headers = {**new_key(), "content-type": media_type}
    response = client.post("/payments", content=raw, headers=headers)
    assert response.status_code < 500, response.text
