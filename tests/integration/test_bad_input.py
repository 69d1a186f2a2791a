"""Every wrong request answers 4xx problem+json with field detail, and writes nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from payments.runtime.services import Services
from tests.integration.helpers import checkout_body, event_count, idempotency_rows, new_key

Client = TestClient  # type: ignore[type-arg]
Body = dict[str, Any]


def mutate(change: Callable[[Body], None]) -> Body:
    body = checkout_body(2)
    change(body)
    return body


def set_order(field: str, value: Any) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        body["payment_orders"][0][field] = value

    return change


def parent(body: Body, path: str) -> tuple[Any, str]:
    """The object that holds the field at a dotted `path` (numbers index lists), and its name."""
    *parents, last = path.split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    return target, last


def drop(path: str) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        target, last = parent(body, path)
        del target[last]

    return change


def put(path: str, value: Any) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        target, last = parent(body, path)
        target[last] = value

    return change


def too_many_orders(body: Body) -> None:
    template = body["payment_orders"][0]
    body["payment_orders"] = [
        {**template, "payment_order_id": f"{body['checkout_id']}_{i}"} for i in range(101)
    ]


def duplicate_order_ids(body: Body) -> None:
    body["payment_orders"][1]["payment_order_id"] = body["payment_orders"][0]["payment_order_id"]


BAD_BODIES: dict[str, tuple[Callable[[Body], None], int, str]] = {
    # name: (change, status, field named in errors[])
    "amount 1e3": (set_order("amount", "1e3"), 422, "payment_orders[0].amount"),
    "amount -1": (set_order("amount", "-1"), 422, "payment_orders[0].amount"),
    "amount 0": (set_order("amount", "0"), 422, "payment_orders[0].amount"),
    "amount 1.234 USD": (set_order("amount", "1.234"), 422, "payment_orders[0].amount"),
    "amount leading space": (set_order("amount", " 1"), 422, "payment_orders[0].amount"),
    "amount comma": (set_order("amount", "1,00"), 422, "payment_orders[0].amount"),
    "amount empty": (set_order("amount", ""), 422, "payment_orders[0].amount"),
    "amount arabic digits": (set_order("amount", "١٢"), 422, "payment_orders[0].amount"),
    "amount number not string": (set_order("amount", 10.5), 422, "payment_orders[0].amount"),
    "amount integer not string": (set_order("amount", 10), 422, "payment_orders[0].amount"),
    "amount absurdly large": (set_order("amount", "9" * 30), 422, "payment_orders[0].amount"),
    "amount over maximum": (set_order("amount", "1000000.01"), 422, "payment_orders[0].amount"),
    "amount very long": (set_order("amount", "1" * 5000), 422, "payment_orders[0].amount"),
    "other currency": (set_order("currency", "EUR"), 422, "payment_orders[0].currency"),
    "lowercase currency": (set_order("currency", "usd"), 422, "payment_orders[0].currency"),
    "empty orders": (put("payment_orders", []), 422, "payment_orders"),
    "101 orders": (too_many_orders, 422, "payment_orders"),
    "duplicate order id": (duplicate_order_ids, 422, "payment_orders[1].payment_order_id"),
    "missing checkout_id": (drop("checkout_id"), 422, "body"),
    "null checkout_id": (put("checkout_id", None), 422, "checkout_id"),
    "missing buyer_info": (drop("buyer_info"), 422, "body"),
    "null buyer_info": (put("buyer_info", None), 422, "buyer_info"),
    "missing token": (drop("credit_card_info.token"), 422, "credit_card_info"),
    "missing amount": (drop("payment_orders.0.amount"), 422, "payment_orders[0]"),
    "null payment_orders": (put("payment_orders", None), 422, "payment_orders"),
    "unknown top-level field": (put("surprise", 1), 422, "body"),
    "unknown order field": (set_order("discount", "1"), 422, "payment_orders[0]"),
    "buyer_info not object": (put("buyer_info", "ada"), 422, "buyer_info"),
    "orders not list": (put("payment_orders", {"a": 1}), 422, "payment_orders"),
    "checkout_id illegal chars": (put("checkout_id", "co/../1"), 422, "checkout_id"),
    "checkout_id spaces": (put("checkout_id", "co 1"), 422, "checkout_id"),
    "checkout_id too long": (put("checkout_id", "c" * 65), 422, "checkout_id"),
    "checkout_id empty": (put("checkout_id", ""), 422, "checkout_id"),
    "order id unicode": (set_order("payment_order_id", "pö_1"), 422, "payment_orders[0].payment_order_id"),
    "order id too long": (set_order("payment_order_id", "p" * 65), 422, "payment_orders[0].payment_order_id"),
    "seller illegal": (set_order("seller_account", "s;drop"), 422, "payment_orders[0].seller_account"),
    "token illegal": (put("credit_card_info.token", "tok with space"), 422, "credit_card_info.token"),
    "card number in card info": (put("credit_card_info.number", "4242424242424242"), 422, "credit_card_info.number"),
    "card number as token": (put("credit_card_info.token", "4242424242424242"), 422, "credit_card_info.token"),
    "card number with spaces": (put("credit_card_info.pan_hint", "4242 4242 4242 4242"), 422, "credit_card_info.pan_hint"),
    "card number as json number": (put("credit_card_info.card", 4000000000000002), 422, "credit_card_info.card"),
    "cvc in card info": (put("credit_card_info.cvc", "123"), 422, "credit_card_info.cvc"),
    "cvv nested": (put("credit_card_info.extra", {"cvv": "123"}), 422, "credit_card_info.extra.cvv"),
    "card number in buyer_info": (put("buyer_info.note", "card 4242424242424242"), 422, "buyer_info.note"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_bad_body_is_refused_with_field_detail_and_nothing_written(
    name: str, client: Client, services: Services
) -> None:
    change, status, field = BAD_BODIES[name]
    events, keys = event_count(services.pool), idempotency_rows(services.pool)
    response = client.post("/payments", json=mutate(change), headers=new_key())
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == status
    fields = [e["field"] for e in problem.get("errors", [])]
    assert field in fields, problem
    assert event_count(services.pool) == events
    assert idempotency_rows(services.pool) == keys


def test_card_number_refusal_hints_at_tokenisation(client: Client) -> None:
    body = mutate(put("credit_card_info.number", "4242424242424242"))
    problem = client.post("/payments", json=body, headers=new_key()).json()
    assert "tokenise" in problem["detail"]
    assert "4242424242424242" not in json.dumps(problem)


RAW_REQUESTS: dict[str, tuple[bytes, str, int]] = {
    "malformed json": (b'{"checkout_id": ', "application/json", 400),
    "not json at all": (b"checkout_id=1", "application/json", 400),
    "json array": (b"[]", "application/json", 422),
    "json null": (b"null", "application/json", 422),
    "wrong content type": (json.dumps(checkout_body()).encode(), "text/plain", 415),
    "form content type": (b"a=1", "application/x-www-form-urlencoded", 415),
    "body over 64 KiB": (
        json.dumps({**checkout_body(), "buyer_info": {"x": "y" * 70_000}}).encode(),
        "application/json",
        413,
    ),
    "invalid utf-8": (b'{"checkout_id": "\xff\xfe"}', "application/json", 400),
}


@pytest.mark.parametrize("name", sorted(RAW_REQUESTS))
def test_raw_bad_request_is_problem_json_and_writes_nothing(
    name: str, client: Client, services: Services
) -> None:
    content, media_type, status = RAW_REQUESTS[name]
    events = event_count(services.pool)
    headers = {**new_key(), "content-type": media_type}
    response = client.post("/payments", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status
    assert event_count(services.pool) == events


def test_missing_content_type_is_415(client: Client) -> None:
    response = client.post(
        "/payments", content=json.dumps(checkout_body()).encode(), headers=new_key()
    )
    assert response.status_code == 415


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ"])
def test_invalid_idempotency_key_is_400(key: str, client: Client) -> None:
    response = client.post(
        "/payments",
        content=json.dumps(checkout_body()).encode(),
        headers={"Idempotency-Key": key.encode(), "content-type": "application/json"},
    )
    assert response.status_code == 400


def test_unknown_route_and_method_are_problems(client: Client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/nope").headers["content-type"].startswith("application/problem+json")
    response = client.delete("/payments")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")


def test_body_mutations_do_not_share_state() -> None:
    first = mutate(set_order("amount", "1"))
    second = copy.deepcopy(first)
    assert first == second
