"""A new checkout's Idempotency-Key answer is stored in the transaction of its events (ADR 0002,
amendment): both or neither, each answer naming its own save's position, also when several
requests' saves share one transaction (group commit, ADR 0019). A key not stored yet is
claimed by that same transaction, with no claim of its own (amendment 2); any other key is
decided by the claim first, as before."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError
from litestar.testing import TestClient

from payments.api.idempotency import caller_scope
from payments.api.routes.payments import CREATE_SCOPE
from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.domain.payment_order import PaymentOrder
from payments.projections.event_store import EVENTS_TABLE
from payments.runtime.idempotency import (
    AnswerWithEvents,
    ClaimOutcome,
    NewAnswerWithEvents,
    StoredResponse,
)
from payments.runtime.keys import parse_key
from payments.runtime.services import Services
from tests.conftest import services_on_new_database, unique
from tests.integration.helpers import checkout_body, event_count, new_key
from tests.racing import all_at_once

Client = TestClient  # type: ignore[type-arg]


def key_row(services: Services, key: str, columns: str) -> tuple[Any, ...]:
    """`columns` of an Idempotency-Key's row, whatever its scope."""
    with services.pool.connection() as conn:
        row = conn.execute(
            f"SELECT {columns} FROM idempotency_keys WHERE key = %s", (key,)
        ).fetchone()
    assert row is not None
    return tuple(row)


def stored_key(services: Services, key: str) -> tuple[str, int | None, bytes | None, Any, str]:
    """The row of an Idempotency-Key, whatever its scope: (state, status, body, headers, xmin)."""
    columns = "state, response_status, response_body, response_headers, xmin::text"
    state, status, body, headers, xmin = key_row(services, key, columns)
    return state, status, None if body is None else bytes(body), headers, str(xmin)


def transactions_of_events(services: Services, originator_ids: list[UUID]) -> set[str]:
    with services.pool.connection() as conn:
        rows = conn.execute(
            f"SELECT xmin::text FROM {EVENTS_TABLE} WHERE originator_id = ANY(%s)",
            (originator_ids,),
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_a_new_checkouts_answer_commits_with_its_events_and_replays_byte_for_byte(
    client: Client, services: Services
) -> None:
    body, key = checkout_body(2), new_key()
    response = client.post("/payments", json=body, headers=key)
    assert response.status_code == 201, response.text
    state, status, stored, headers, xmin = stored_key(services, key["Idempotency-Key"])
    assert (state, status, stored) == ("done", 201, response.content)
    assert claimed_by_the_save(services, key["Idempotency-Key"])  # no claim of its own
    assert headers["event-position"] == response.headers["event-position"]
    assert headers["location"] == f"/checkouts/{body['checkout_id']}"
    ids = [checkout_uuid(body["checkout_id"])] + [
        payment_order_uuid(o["payment_order_id"]) for o in body["payment_orders"]
    ]
    assert transactions_of_events(services, ids) == {xmin}  # one transaction: both or neither
    replay = client.post("/payments", json=body, headers=key)
    assert replay.status_code == 201
    assert replay.content == response.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["event-position"] == response.headers["event-position"]


def test_a_repeat_under_a_new_key_saves_nothing_and_still_stores_its_answer(
    client: Client, services: Services
) -> None:
    body = checkout_body(1)
    assert client.post("/payments", json=body, headers=new_key()).status_code == 201
    key = new_key()
    again = client.post("/payments", json=body, headers=key)
    assert again.status_code == 200, again.text
    state, status, stored, _, _ = stored_key(services, key["Idempotency-Key"])
    assert (state, status, stored) == ("done", 200, again.content)


def test_answers_sharing_one_transaction_each_name_their_own_saves_position(
    admin_database_url: str,
) -> None:
    """Two saves written in one transaction, as group commit writes them: each answer is
    stored with the position of its own save's last event, not its neighbour's."""
    run = unique("aw")
    with services_on_new_database(admin_database_url) as services:
        app, store = services.application, services.idempotency
        saves: list[ProcessingEvent[Any]] = []
        answers: list[AnswerWithEvents[str]] = []
        for name, orders in (("first", 2), ("second", 1)):
            scope = caller_scope("key_aw", "POST /test")
            assert store.claim(scope, f"{run}_{name}", "fp").outcome is ClaimOutcome.CLAIMED
            answer = AnswerWithEvents(scope, f"{run}_{name}", render)
            saves.append(orders_answered(f"{run}_{name}", orders, answer, name))
            answers.append(answer)
        stored_events = [
            app.mapper.to_stored_event(event) for save in saves for event in save.events
        ]
        ids = app.recorder.insert_events(stored_events, with_events=answers)
        assert ids is not None
        assert len(ids) == 3
        first, second = (stored_key(services, f"{run}_{name}") for name in ("first", "second"))
        assert first[:3] == ("done", 201, json.dumps(["first", ids[1]]).encode())
        assert second[:3] == ("done", 201, json.dumps(["second", ids[2]]).encode())
        assert first[3] == {"event-position": str(ids[1])}
        assert first[4] == second[4]  # the same transaction


def orders_answered(
    checkout_id: str, orders: int, answer: AnswerWithEvents[str], subject: str
) -> ProcessingEvent[Any]:
    """A save of `orders` new orders of one checkout, answered by `answer` (about `subject`)
    at the position of its last event, as `PaymentsApplication.record` prepares one."""
    processing: ProcessingEvent[Any] = ProcessingEvent()
    for n in range(orders):
        order = PaymentOrder(
            payment_order_id=f"{checkout_id}_{n}",
            checkout_id=checkout_id,
            seller_account="seller_aw",
            amount_minor=500,
            currency="USD",
            card_token="tok_visa",
            commission_minor=0,
            funds_held=True,
        )
        processing.collect_events(order)
    answer.answering(subject)
    last = processing.events[-1]
    answer.follows((last.originator_id, last.originator_version))
    return processing


def render(subject: str, position: int) -> StoredResponse:
    body = json.dumps([subject, position]).encode()
    return StoredResponse(201, body, {"event-position": str(position)})


def caller_scope_of(client: Client) -> str:
    parsed = parse_key(client.headers["authorization"].removeprefix("Bearer "))
    assert parsed is not None
    return caller_scope(parsed[1], CREATE_SCOPE)


def claimed_by_the_save(services: Services, key: str) -> bool:
    """The key's row was inserted by the transaction that saved its checkout, answered at
    once: no claim before it (a claim leaves its lease 60 s past the row's creation)."""
    return key_row(services, key, "state = 'done' AND lease_until = created_at") == (True,)


@pytest.mark.parametrize("conflict", ["same checkout, other content", "an order id taken"])
def test_a_key_reused_with_another_body_is_422_before_any_conflict_of_the_body(
    client: Client, services: Services, conflict: str
) -> None:
    """The new path tries the command before looking at the key; a body that the domain
    refuses on its own (409) still answers what the key says first: reused, 422."""
    body, key = checkout_body(2), new_key()
    assert client.post("/payments", json=body, headers=key).status_code == 201
    other = copy.deepcopy(body)
    if conflict == "same checkout, other content":
        other["buyer_info"] = {"name": "Someone Else"}
    else:
        other["checkout_id"] = f"{body['checkout_id']}_other"
    count = event_count(services.pool)
    response = client.post("/payments", json=other, headers=key)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("idempotency-key-reused")
    assert event_count(services.pool) == count
    replay = client.post("/payments", json=body, headers=key)
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (201, "true")


def test_an_expired_key_is_taken_over_through_the_claim(client: Client, services: Services) -> None:
    first, key = checkout_body(1), new_key()
    assert client.post("/payments", json=first, headers=key).status_code == 201
    with services.pool.connection() as conn:
        conn.execute(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = %s",
            (key["Idempotency-Key"],),
        )
    second = checkout_body(1)
    response = client.post("/payments", json=second, headers=key)
    assert response.status_code == 201, response.text
    assert response.json()["checkout_id"] == second["checkout_id"]
    state, status, stored, _, _ = stored_key(services, key["Idempotency-Key"])
    assert (state, status, stored) == ("done", 201, response.content)
    assert not claimed_by_the_save(services, key["Idempotency-Key"])  # claimed, then saved


def test_fresh_keys_sent_with_a_key_in_flight_all_succeed(
    client: Client, services: Services
) -> None:
    """A save whose key is taken fails its transaction; the saves sharing it (group commit)
    are written again on their own, so only that request is refused."""
    held_body, held = checkout_body(1), new_key()
    scope = caller_scope_of(client)
    claim = services.idempotency.claim(scope, held["Idempotency-Key"], "another request's")
    assert claim.outcome is ClaimOutcome.CLAIMED
    bodies = [(held_body, held)] + [(checkout_body(1), new_key()) for _ in range(11)]
    count = event_count(services.pool)
    answers = dict(
        all_at_once(
            len(bodies),
            lambda i: (i, client.post("/payments", json=bodies[i][0], headers=bodies[i][1])),
        )
    )
    statuses = [answers[i].status_code for i in range(len(bodies))]
    assert statuses[0] == 422  # another fingerprint holds the key: reused, whatever its state
    assert statuses[1:] == [201] * 11, [a.text for a in answers.values() if a.status_code != 201]
    assert event_count(services.pool) == count + 11 * 2
    assert all(claimed_by_the_save(services, key["Idempotency-Key"]) for _, key in bodies[1:])


def test_a_taken_key_fails_the_whole_shared_transaction(admin_database_url: str) -> None:
    """Two saves in one transaction, the second's key stored already: neither's events nor
    key are written (group commit then writes each alone)."""
    run = unique("nk")
    with services_on_new_database(admin_database_url) as services:
        app, store = services.application, services.idempotency
        scope = caller_scope("key_nk", "POST /test")
        assert store.claim(scope, f"{run}_taken", "fp").outcome is ClaimOutcome.CLAIMED
        saves: list[ProcessingEvent[Any]] = []
        answers: list[NewAnswerWithEvents[str]] = []
        for name in ("fresh", "taken"):
            answer = NewAnswerWithEvents(scope, f"{run}_{name}", render, "fp", timedelta(hours=24))
            saves.append(orders_answered(f"{run}_{name}", 1, answer, name))
            answers.append(answer)
        stored_events = [
            app.mapper.to_stored_event(event) for save in saves for event in save.events
        ]
        count = event_count(services.pool)
        with pytest.raises(IntegrityError):
            app.recorder.insert_events(stored_events, with_events=answers)
        assert event_count(services.pool) == count
        assert store.claim(scope, f"{run}_fresh", "fp").outcome is ClaimOutcome.CLAIMED
        assert stored_key(services, f"{run}_taken")[0] == "in_flight"
