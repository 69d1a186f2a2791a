"""An API process killed (SIGKILL) while it answers POST /payments on 8 threads, under group
commit: every checkout stored has its Idempotency-Key completed with its own answer, so a
retry replays it (ADR 0002, amendment: the answer is written in the transaction of the
checkout's events)."""

from __future__ import annotations

import json
from uuid import UUID

from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.projections.event_store import EVENTS_TABLE
from payments.runtime.services import Services
from tests.conftest import services_on
from tests.integration.helpers import PLACED_BEFORE_KILL, checkouts_stored, kill_after_placing

# The route's own code (Litestar's test client in the child: no network to wait on), POSTing
# checkouts whose Idempotency-Key is "k-" + checkout_id.
POSTER = """
import sys, threading, uuid
from litestar.testing import TestClient
from payments.api.app import create_app
from payments.domain.api_key import Role
from payments.runtime.config import Settings
from payments.runtime.services import build_services

url = sys.argv[1]
services = build_services(Settings.from_env({
    "PAYMENTS_DATABASE_URL": url,
    "PAYMENTS_RATE_LIMIT_PER_KEY": "1000000/second",
}), url)
key, _ = services.issue_key(Role.MERCHANT, None, "crash test", by="cli")
client = TestClient(app=create_app(services))
client.__enter__()

def post_forever() -> None:
    while True:
        checkout_id = "co_ac_" + uuid.uuid4().hex
        client.post("/payments", headers={
            "Authorization": f"Bearer {key.text}", "Idempotency-Key": "k-" + checkout_id,
        }, json={
            "checkout_id": checkout_id,
            "buyer_info": {"email": "crash@example.com"},
            "credit_card_info": {"token": "tok_visa"},
            "payment_orders": [
                {"payment_order_id": f"{checkout_id}_{i}", "seller_account": "seller_ac",
                 "amount": "1.00", "currency": "USD"}
                for i in range(2)
            ],
        })

for _ in range(8):
    threading.Thread(target=post_forever, daemon=True).start()
threading.Event().wait()
"""


def owners_by_position(services: Services) -> dict[int, UUID]:
    with services.pool.connection() as conn:
        rows = conn.execute(f"SELECT notification_id, originator_id FROM {EVENTS_TABLE}")
        return {int(position): owner for position, owner in rows}


def test_an_api_killed_mid_request_leaves_every_checkout_stored_with_its_answer(
    fresh_database_url: str,
) -> None:
    with services_on(fresh_database_url) as services:  # the schema, before the child starts
        kill_after_placing(POSTER, fresh_database_url, services.pool)
        stored = checkouts_stored(services.pool).values()
        owners = owners_by_position(services)
        with services.pool.connection() as conn:
            rows = conn.execute(
                "SELECT key, state, response_status, response_body, response_headers "
                "FROM idempotency_keys"
            ).fetchall()
        keys = {row[0]: row[1:] for row in rows}
        assert len(stored) >= PLACED_BEFORE_KILL
        for checkout_id in stored:
            state, status, body, headers = keys["k-" + checkout_id]
            assert (state, status) == ("done", 201), checkout_id
            answer = json.loads(bytes(body))
            assert answer["checkout_id"] == checkout_id
            assert headers["event-position"] == str(answer["position"])
            mine = {checkout_uuid(checkout_id)} | {
                payment_order_uuid(o["payment_order_id"]) for o in answer["payment_orders"]
            }
            assert owners[answer["position"]] in mine  # its own save's position
