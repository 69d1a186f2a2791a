"""Property: no input makes any route answer 5xx; hostile inputs get a clear problem."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.routes import HTTPRoute
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


# --- every route of the app, hostile input anywhere in the request -------------------------

# Path segments as percent-escapes (what reaches the server): control characters, invalid
# and overlong UTF-8, surrogates, over-long ids, separators.
hostile_segments = st.one_of(
    st.sampled_from(
        [
            "%00", "a%00b", "%0A", "%0D%0A", "%1B", "%7F", "%C2%85", "%FF", "%C0%AF", "%C0%80",
            "%ED%A0%80", "%F4%90%80%80", "%E2%80%AE", "%EF%BB%BF", "%20", "..", "%2F", "%25",
            "null", "-1", "9" * 40, "a" * 65, "a" * 5000,
        ]
    ),
    st.text(min_size=1, max_size=80).map(lambda t: quote(t, safe="")),
    st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
)  # fmt: skip
hostile_values = st.one_of(
    st.sampled_from(
        ["%00", "%0A", "%1B", "%FF", "%C0%AF", "", "null", "-1", "1e999", "9" * 40, "a" * 5000]
    ),
    st.text(max_size=60).map(lambda t: quote(t, safe="")),
)
QUERY_NAMES = ["min_position", "as_of", "limit", "cursor", "status", "seller_account",
               "checkout_id", "created_from", "created_to", "state", "offset", "x"]  # fmt: skip
HEADER_NAMES = ["Idempotency-Key", "Min-Position", "Content-Type", "PSP-Signature",
                "X-Request-Id", "Accept", "X-Other"]  # fmt: skip
header_values = st.one_of(
    st.sampled_from([b"", b"\x00", b"a\x00b", b"a\r\nb", b"\x1b[31m", b"\x7f", b"\xff\xfe",
                     b"\xc0\xaf", b"application/json", b"text/csv", b"t=1,v1=00", b"9" * 40]),
    st.binary(max_size=40),
)  # fmt: skip


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


hostile_bodies = st.one_of(
    st.sampled_from(
        [
            b"[" * 20_000 + b"]" * 20_000,
            nested(20_000),
            nested(33),
            b'{"reason": ' + b"[" * 900 + b"]" * 900 + b"}",
            "\ufeff{}".encode("utf-16"),
            "{}".encode("utf-16-le"),
            b"\xef\xbb\xbf{}",
            b'{"reason": "\xc0\xaf"}',
            b'{"reason": "\xed\xa0\x80"}',
            b'{"reason": "\\ud800"}',
            b'{"reason": "\\u0000"}',
            b'{"amount": 1e999999, "seller_account": "s"}',
            b'{"amount": ' + b"9" * 5000 + b', "seller_account": "s"}',
            b'{"seller_account": "a", "seller_account": "b"}',
            b'{"action": "write_off", "action": "x", "reason": "r"}',
            b"\x00",
            b"",
            b"null",
        ]
    ),
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
)


def route_table(app: Litestar) -> list[tuple[str, str]]:
    """(method, path template) of every HTTP route of the app, read from the app itself, so
    that a new route is covered without touching this test."""
    return sorted(
        (method, route.path)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for method in route.methods
    )


@st.composite
def hostile_requests(draw: st.DrawFn, routes: list[tuple[str, str]]) -> dict[str, Any]:
    method, template = draw(st.sampled_from(routes))
    path = re.sub(r"\{[^}]+\}", lambda _: draw(hostile_segments), template)
    query = "&".join(
        f"{draw(st.sampled_from(QUERY_NAMES))}={draw(hostile_values)}"
        for _ in range(draw(st.integers(0, 3)))
    )
    headers = {
        name: draw(header_values)
        for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=3, unique=True))
    }
    body = draw(hostile_bodies) if method in ("POST", "PUT", "PATCH") else b""
    return {
        "method": method,
        "url": f"{path}?{query}" if query else path,
        "headers": headers,
        "content": body,
    }


def test_every_route_is_covered(client: Client) -> None:
    routes = route_table(client.app)
    assert ("POST", "/payments") in routes
    assert ("GET", "/payments/{payment_order_id:str}") in routes
    assert len({path for _, path in routes}) >= 20


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_hostile_request_to_any_route_yields_5xx(client: Client, data: st.DataObject) -> None:
    request = data.draw(hostile_requests(route_table(client.app)))
    response = client.request(**request)
    assert response.status_code < 500, (request["method"], request["url"][:300], response.text)
    if response.status_code >= 400 and request["method"] != "HEAD":
        # RFC 9457 everywhere, the framework's own 404/405 included.
        assert response.headers["content-type"] == "application/problem+json", response.text
        assert response.json()["status"] == response.status_code


@pytest.mark.parametrize(
    ("method", "url", "headers", "content", "status", "slug"),
    [
        ("POST", "/payments", {}, b"[" * 20_000 + b"]" * 20_000, 400, "json-too-deep"),
        ("POST", "/payouts", {}, nested(33), 400, "json-too-deep"),
        ("POST", "/dead-letters/po_x/replay", {}, nested(20_000), 400, "json-too-deep"),
        ("GET", "/payments/%00", {}, b"", 400, "control-character"),
        ("GET", "/checkouts/a%1Bb", {}, b"", 400, "control-character"),
        ("GET", "/payments?cursor=%00", {}, b"", 400, "control-character"),
        ("GET", "/wallets/seller_a", {"X-Other": b"a\x00b"}, b"", 400, "control-character"),
        ("GET", "/payments/" + "a" * 65, {}, b"", 422, "validation"),
        ("GET", "/payments/%FF", {}, b"", 422, "validation"),
        ("POST", "/payments", {}, "\ufeff{}".encode("utf-16"), 400, "malformed-json"),
        ("POST", "/payments", {}, b'{"a": "\xc0\xaf"}', 400, "malformed-json"),
        (
            "POST",
            "/payouts",
            {},
            b'{"seller_account": "s", "amount": 1e999999}',
            400,
            "malformed-json",
        ),
    ],
)
def test_hostile_inputs_answer_a_clear_problem(
    client: Client,
    method: str,
    url: str,
    headers: dict[str, bytes],
    content: bytes,
    status: int,
    slug: str,
) -> None:
    headers = {"Idempotency-Key": b"k-" + uuid.uuid4().hex.encode(),
               "Content-Type": b"application/json", **headers}  # fmt: skip
    response = client.request(method, url, headers=headers, content=content)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/" + slug), response.text


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    "name",
    ["a" * 5000, "%00", "a%00b", "..%2F..%2Fpyproject.toml", "%2E%2E/%2E%2E/pyproject.toml"],
)
def test_the_console_stylesheet_route_refuses_odd_names_with_a_4xx(
    client: Client, method: str, name: str
) -> None:
    """A name the OS would refuse (too long, a NUL) or one that climbs out of the folder is
    not found, never a 500 (a hypothesis draw of the test above found the long one)."""
    response = client.request(method, f"/console/static/{name}")
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert b"[project]" not in response.content
