"""A process killed (SIGKILL) while it places checkouts on 8 threads, under group commit:
every checkout stored has its key, and no key is stored without its checkout (ADR 0012,
amendment: a checkout's own key is written in the transaction of its events)."""

from __future__ import annotations

from uuid import UUID

from payments.domain.personal_data import SealedPersonalData
from tests.conftest import services_on
from tests.integration.helpers import PLACED_BEFORE_KILL, checkouts_stored, kill_after_placing

PLACER = """
import sys, threading, uuid
from payments.domain.application import OrderLine, PlaceCheckout
from payments.domain.money import Money
from payments.runtime.config import Settings
from payments.runtime.services import build_services

url = sys.argv[1]
services = build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url)

def place_forever() -> None:
    while True:
        checkout_id = "co_crash_" + uuid.uuid4().hex
        services.application.place_checkout(PlaceCheckout(
            checkout_id=checkout_id,
            buyer_info={"email": "crash@example.com"},
            card_token="tok_visa",
            card_details={"brand": "visa", "last4": "4242"},
            orders=tuple(
                OrderLine(f"{checkout_id}_{i}", "seller_crash", Money.parse("1.00", "USD"))
                for i in range(3)
            ),
        ))

for _ in range(8):
    threading.Thread(target=place_forever, daemon=True).start()
threading.Event().wait()
"""


def test_a_placer_killed_mid_save_leaves_every_checkout_with_its_key_and_no_key_alone(
    fresh_database_url: str,
) -> None:
    with services_on(fresh_database_url) as services:  # the schema, before the child starts
        kill_after_placing(PLACER, fresh_database_url, services.pool)
        ids = list(checkouts_stored(services.pool))
        with services.pool.connection() as conn:
            rows = conn.execute("SELECT key_id FROM privacy_keys WHERE key IS NOT NULL")
            keys = {row[0] for row in rows}
        assert len(ids) >= PLACED_BEFORE_KILL
        sealed_under: set[UUID] = set()
        for checkout_id in ids:
            buyer_info = services.application.repository.get(checkout_id).buyer_info
            assert isinstance(buyer_info, SealedPersonalData)
            assert services.personal_data.open(buyer_info).state == "readable"
            sealed_under.add(buyer_info.key_id)
        assert keys == sealed_under  # one key per checkout stored, none stored alone
