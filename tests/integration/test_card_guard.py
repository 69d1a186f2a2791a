"""The card guard: card numbers and CVCs anywhere in a body are refused; ordinary data is not.

Property tests both ways on the guard itself (no database), then the sandbox PSP's test
cards hidden in buyer_info through the real app: 422, a hint to tokenise, nothing written.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from payments.api.card_guard import CVC_KEYS, refuse_card_data
from payments.api.problems import ProblemError
from payments.psp.cards import contains_card_number, luhn_valid, redact_card_numbers
from payments.psp.sandbox.tokens import TEST_CARD_BEHAVIOURS
from payments.runtime.logs import JsonLinesFormatter
from payments.runtime.services import Services
from tests.integration.helpers import checkout_body, event_count, idempotency_rows, new_key

Client = TestClient  # type: ignore[type-arg]

# Public test numbers of other networks (Stripe's and Adyen's documentation).
OTHER_TEST_CARDS = [
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # Amex, 15 digits
    "6011111111111117",  # Discover
    "3056930009020004",  # Diners, 16 digits
    "36227206271667",  # Diners, 14 digits
    "3566002020360505",  # JCB
    "6200000000000005",  # UnionPay
    "4000002500003155",  # Visa, 3-D Secure
    "4111111111111111",
    "6703444444444449",  # Maestro (Adyen), 16 digits
    "4222222222222",  # Visa, 13 digits
]
SANDBOX_CARDS = sorted(TEST_CARD_BEHAVIOURS)
ALL_CARDS = SANDBOX_CARDS + OTHER_TEST_CARDS
# (prefix, length) of the networks the guard knows; the rest of the number is random.
NETWORKS = [
    ("4", 16),
    ("4", 13),
    ("4", 19),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("2720", 16),
    ("2200", 16),
    ("34", 15),
    ("37", 15),
    ("36", 14),
    ("300", 14),
    ("3528", 16),
    ("3589", 19),
    ("6011", 16),
    ("65", 16),
    ("62", 19),
    ("81", 17),
    ("9792", 16),
]


def with_check_digit(partial: str) -> str:
    return next(partial + d for d in "0123456789" if luhn_valid(partial + d))


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A test card, or a random number of a known network with a valid check digit."""
    if draw(st.booleans()):
        return draw(st.sampled_from(ALL_CARDS))
    prefix, length = draw(st.sampled_from(NETWORKS))
    middle = draw(st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length))
    return with_check_digit(prefix + middle[: length - len(prefix) - 1])


def printed(number: str, style: str) -> str:
    """A card number as people write it: in one block, or in groups of four (Amex 4-6-5)."""
    if style == "plain":
        return number
    separator = {"spaces": " ", "dashes": "-", "dots": "."}[style]
    if len(number) == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    return separator.join(groups)


STYLES = st.sampled_from(["plain", "spaces", "dashes", "dots"])
# Text around a number; it ends (and the text after it starts) with a non-alphanumeric
# character, as a number written in a sentence does.
SURROUNDINGS = st.text(alphabet="abcXYZ :;,/#()é€", max_size=12)
CARD_FIELD_NAMES = CVC_KEYS | {"pan", "number", "cardnumber", "ccnumber", "accountnumber", "cid"}
SAFE_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10).filter(
    lambda k: k.replace("_", "") not in CARD_FIELD_NAMES
)


def hide(value: Any, keys: list[str], listed: list[bool]) -> Any:
    """value nested under keys, each level a dict or a one-element list."""
    for key, in_list in zip(reversed(keys), reversed(listed), strict=True):
        value = {key: [value] if in_list else value}
    return value


def refused_fields(body: Any) -> list[str]:
    """The fields the guard names (none: the body passes); a refusal hints at tokenising."""
    problem = None
    try:
        refuse_card_data(body)
    except ProblemError as error:
        problem = error.problem
    if problem is None:
        return []
    assert problem.status == 422
    assert "tokenise" in problem.detail
    return [field.field for field in problem.errors]


@settings(max_examples=400, deadline=None)
@given(
    number=card_numbers(),
    style=STYLES,
    before=SURROUNDINGS,
    after=SURROUNDINGS,
    keys=st.lists(SAFE_KEYS, min_size=1, max_size=5),
    data=st.data(),
)
def test_a_card_number_anywhere_in_the_body_is_refused(
    number: str,
    style: str,
    before: str,
    after: str,
    keys: list[str],
    data: st.DataObject,
) -> None:
    text = f"{before} {printed(number, style)} {after}"
    listed = data.draw(st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)))
    body = {**checkout_body(1), "buyer_info": hide(text, keys, listed)}
    fields = refused_fields(body)
    assert len(fields) == 1
    assert fields[0].startswith("buyer_info.")
    assert number not in json.dumps(fields)


@settings(max_examples=100, deadline=None)
@given(number=card_numbers(), section=st.sampled_from(["buyer_info", "credit_card_info", "top"]))
def test_a_card_number_as_a_json_number_or_as_a_key_is_refused(number: str, section: str) -> None:
    as_value = {"memo": int(number)}
    as_key = {number: "x"}
    for hidden in (as_value, as_key):
        body = checkout_body(1)
        if section == "top":
            body["extra"] = hidden
        else:
            body[section] = {**body[section], **hidden}
        fields = refused_fields(body)
        assert fields, hidden
        assert number not in json.dumps(fields)


CVC_SPELLINGS = st.sampled_from(
    ["cvc", "cvv", "cvv2", "csc", "security_code", "cvc2", "card_cvc", "cardCvv", "cc_csc"]
)


@settings(max_examples=200, deadline=None)
@given(
    name=CVC_SPELLINGS,
    casing=st.sampled_from([str.lower, str.upper, str.title, lambda s: s.replace("_", "-")]),
    value=st.one_of(st.text(max_size=4), st.integers(0, 9999), st.none()),
    keys=st.lists(SAFE_KEYS, max_size=4),
    section=st.sampled_from(["buyer_info", "credit_card_info", "extra"]),
)
def test_a_cvc_key_anywhere_in_any_case_is_refused(
    name: str, casing: Any, value: Any, keys: list[str], section: str
) -> None:
    key = casing(name)
    body = checkout_body(1)
    nested = hide({key: value}, keys, [False] * len(keys)) if keys else {key: value}
    body[section] = {**body.get(section, {}), **nested}
    fields = refused_fields(body)
    assert len(fields) == 1
    assert fields[0].endswith("." + key)


def digits(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=min_size, max_size=max_size)


# E.164 numbers of a few countries, with the length of their national numbers.
COUNTRIES = [("1", 10), ("44", 10), ("49", 11), ("33", 9), ("86", 11), ("91", 10), ("55", 11)]


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    code, length = draw(st.sampled_from(COUNTRIES))
    national = draw(digits(length, length))
    style = draw(st.sampled_from(["e164", "spaced", "dashed", "national", "us"]))
    if style == "e164":
        return f"+{code}{national}"
    if style == "spaced":
        return f"+{code} {national[:3]} {national[3:7]} {national[7:]}"
    if style == "dashed":
        return f"+{code}-{national[:3]}-{national[3:6]}-{national[6:]}"
    if style == "national":
        return f"0{national[:4]} {national[4:]}"
    return f"({national[:3]}) {national[3:6]}-{national[6:10]}"


IDS = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(lambda u: str(u).upper()),
    st.builds(lambda p, n: f"{p}_{n}", st.sampled_from(["co", "po", "cus", "ord"]), digits(1, 20)),
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        min_size=8,
        max_size=32,
    ).map(lambda s: "tok_" + s),
    st.integers(0, 10**12),
)
AMOUNTS = st.one_of(
    st.decimals(0, 10**12, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.integers(0, 10**12).map(lambda n: f"{n:,}.00"),
    st.integers(0, 10**12).map(lambda n: f"{n:,}".replace(",", ".") + ",00"),
    st.floats(0, 10**12, allow_nan=False),
)
DATES = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.dates().map(str),
    st.dates().map(lambda d: d.strftime("%d.%m.%Y")),
    st.dates().map(lambda d: d.strftime("%m/%d/%Y")),
    st.dates().map(lambda d: d.strftime("%Y%m%d")),
    st.integers(0, 4_102_444_800),  # epoch seconds until 2100
    st.integers(1_000_000_000_000, 3_999_999_999_999),  # epoch milliseconds until 2096
)
ORDINARY = st.one_of(phone_numbers(), IDS, AMOUNTS, DATES)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.dictionaries(SAFE_KEYS, ORDINARY, min_size=1, max_size=6), sentence=st.booleans())
def test_ordinary_ids_phone_numbers_amounts_dates_and_uuids_pass(
    values: dict[str, Any], sentence: bool
) -> None:
    buyer_info: dict[str, Any] = dict(values)
    if sentence:
        buyer_info["note"] = "call " + " or ".join(str(v) for v in values.values())
    body = {**checkout_body(1), "buyer_info": buyer_info}
    assert refused_fields(body) == []


def test_a_cvc_check_verdict_and_a_long_run_of_digits_pass() -> None:
    body = checkout_body(1)
    body["buyer_info"] = {
        "cvc_check": "pass",
        "reference": "4242424242424242424242",  # 22 digits: no card is that long
        "glued": "ref4242424242424242x",  # inside an id, not a number on its own
    }
    assert refused_fields(body) == []


# --- through the real app ----------------------------------------------------------------


@pytest.mark.parametrize("number", ALL_CARDS)
def test_sandbox_test_cards_hidden_in_buyer_info_are_refused_and_nothing_is_written(
    number: str, client: Client, services: Services
) -> None:
    events, keys = event_count(services.pool), idempotency_rows(services.pool)
    hiding_places: list[dict[str, Any]] = [
        {"name": "Ada", "note": f"my card is {printed(number, 'spaces')}, exp 12/30"},
        {"addresses": [{"line1": "1 Main St", "extra": {"memo": printed(number, "dashes")}}]},
        {"loyalty": {"numbers": [123, int(number)]}},
        {"payment": {"card": printed(number, "dots")}},
    ]
    for buyer_info in hiding_places:
        body = {**checkout_body(1), "buyer_info": buyer_info}
        response = client.post("/payments", json=body, headers=new_key())
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"].endswith("/card-data-refused")
        assert "tokenise" in problem["detail"]
        assert problem["errors"][0]["field"].startswith("buyer_info.")
        assert number not in response.text
    assert event_count(services.pool) == events
    assert idempotency_rows(services.pool) == keys


def test_a_cvc_in_buyer_info_is_refused_over_http(client: Client, services: Services) -> None:
    events = event_count(services.pool)
    body = {**checkout_body(1), "buyer_info": {"card": {"Security_Code": "123"}}}
    response = client.post("/payments", json=body, headers=new_key())
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "buyer_info.card.Security_Code", "message": "a CVC must never be sent"}
    ]
    assert event_count(services.pool) == events


def test_ordinary_buyer_info_with_phone_ids_and_dates_is_accepted(client: Client) -> None:
    body = checkout_body(1)
    body["buyer_info"] = {
        "buyer_id": "b_1234567890",
        "phone": "+49 151 23456789",
        "customer": "550e8400-e29b-41d4-a716-446655440000",
        "since": "2026-12-03T10:20:30Z",
        "last_order_total": "1234567.89",
        "cvc_check": "pass",
    }
    response = client.post("/payments", json=body, headers=new_key())
    assert response.status_code == 201, response.text


def test_a_card_number_in_a_url_path_is_not_written_to_the_access_log(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="payments.access")
    response = client.get("/payments/4242-4242-4242-4242")
    assert response.status_code == 404
    formatter = JsonLinesFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert "/payments/[card number]" in logged
    assert "4242-4242" not in logged


@settings(max_examples=200, deadline=None)
@given(number=card_numbers(), style=STYLES, before=SURROUNDINGS, after=SURROUNDINGS)
def test_redacting_leaves_no_card_number_and_the_rest_as_it_was(
    number: str, style: str, before: str, after: str
) -> None:
    text = f"{before} {printed(number, style)} {after}"
    assert redact_card_numbers(text) == f"{before} [card number] {after}"
    assert not contains_card_number(redact_card_numbers(text))
    assert redact_card_numbers(before + after) == before + after
