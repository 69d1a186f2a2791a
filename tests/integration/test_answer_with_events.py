"""A new checkout's Idempotency-Key answer is stored in the transaction of its events (ADR 0002,
amendment): both or neither, each answer naming its own save's position, also when several
requests' saves share one transaction (group commit, ADR 0019)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from litestar.testing import TestClient

from payments.api.idempotency import caller_scope
from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.domain.payment_order import PaymentOrder
from payments.projections.event_store import EVENTS_TABLE
from payments.runtime.idempotency import AnswerWithEvents, ClaimOutcome, StoredResponse
from payments.runtime.services import Services
from tests.conftest import services_on_new_database, unique
from tests.integration.helpers import checkout_body, new_key

Client = TestClient  # type: ignore[type-arg]


def stored_key(services: Services, key: str) -> tuple[str, int | None, bytes | None, Any, str]:
    """The row of an Idempotency-Key, whatever its scope: (state, status, body, headers, xmin)."""
    with services.pool.connection() as conn:
        row = conn.execute(
            "SELECT state, response_status, response_body, response_headers, xmin::text "
            "FROM idempotency_keys WHERE key = %s",
            (key,),
        ).fetchone()
    assert row is not None
    state, status, body, headers, xmin = row
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
            processing: ProcessingEvent[Any] = ProcessingEvent()
            for n in range(orders):
                order = PaymentOrder(
                    payment_order_id=f"{run}_{name}_{n}",
                    checkout_id=f"{run}_{name}",
                    seller_account="seller_aw",
                    amount_minor=500,
                    currency="USD",
                    card_token="tok_visa",
                    commission_minor=0,
                    funds_held=True,
                )
                processing.collect_events(order)
            scope = caller_scope("key_aw", "POST /test")
            assert store.claim(scope, f"{run}_{name}", "fp").outcome is ClaimOutcome.CLAIMED
            answer = AnswerWithEvents(scope, f"{run}_{name}", render)
            answer.answering(name)
            last = processing.events[-1]
            answer.follows((last.originator_id, last.originator_version))
            saves.append(processing)
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


def render(subject: str, position: int) -> StoredResponse:
    body = json.dumps([subject, position]).encode()
    return StoredResponse(201, body, {"event-position": str(position)})
