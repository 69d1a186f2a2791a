"""A checkout's own key is written in the transaction of the events it seals (ADR 0012,
amendment): neither is stored without the other, and every conflict still answers as before."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from payments.domain.application import OrderLine, PlaceCheckout
from payments.domain.checkout import Checkout
from payments.domain.errors import CheckoutConflict, PaymentOrderConflict
from payments.domain.ids import checkout_uuid
from payments.domain.money import Money
from payments.domain.personal_data import SealedPersonalData, buyer_subject, checkout_subject
from payments.projections.event_store import EVENTS_TABLE
from payments.runtime import services as services_module
from payments.runtime.config import Settings
from payments.runtime.database import eventsourcing_env
from payments.runtime.services import Services, build_services
from tests.conftest import unique

LIBRARY_RECORDER = "eventsourcing.postgres:PostgresApplicationRecorder"


def command(checkout_id: str, order_ids: list[str], **buyer: str) -> PlaceCheckout:
    return PlaceCheckout(
        checkout_id=checkout_id,
        buyer_info={"email": "kwe@example.com", **buyer},
        card_token="tok_visa",
        card_details={"brand": "visa", "last4": "4242"},
        orders=tuple(OrderLine(o, "seller_kwe", Money.parse("7.00", "USD")) for o in order_ids),
    )


def keys_of(services: Services, subject: str) -> list[tuple[UUID, bool]]:
    """The subject's keys: (key id, live)."""
    digest = services.personal_data.subject_digest(subject)
    with services.pool.connection() as conn:
        rows = conn.execute(
            "SELECT key_id, key IS NOT NULL FROM privacy_keys WHERE subject_digest = %s",
            (digest,),
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


def transaction_of_key(services: Services, key_id: UUID) -> str:
    with services.pool.connection() as conn:
        row = conn.execute(
            "SELECT xmin::text FROM privacy_keys WHERE key_id = %s", (key_id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def transactions_of_events(services: Services, originator_id: UUID) -> set[str]:
    with services.pool.connection() as conn:
        rows = conn.execute(
            f"SELECT xmin::text FROM {EVENTS_TABLE} WHERE originator_id = %s", (originator_id,)
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_a_checkouts_own_key_commits_in_the_transaction_of_its_events(
    services: Services,
) -> None:
    checkout_id = unique("co_kwe")
    placed = services.application.place_checkout(command(checkout_id, [f"{checkout_id}_po"]))
    sealed = placed.checkout.buyer_info
    assert isinstance(sealed, SealedPersonalData)
    assert keys_of(services, checkout_subject(checkout_id)) == [(sealed.key_id, True)]
    events = transactions_of_events(services, checkout_uuid(checkout_id))
    assert events == {transaction_of_key(services, sealed.key_id)}
    reading = services.personal_data.open(sealed)
    assert reading.state == "readable"
    assert reading.buyer_info == {"email": "kwe@example.com"}


def test_a_buyers_key_is_stored_first_and_kept(services: Services) -> None:
    buyer_id = unique("b_kwe")
    first = services.application.place_checkout(
        command(unique("co_kwe"), [unique("po_kwe")], buyer_id=buyer_id)
    )
    second = services.application.place_checkout(
        command(unique("co_kwe"), [unique("po_kwe")], buyer_id=buyer_id)
    )
    assert isinstance(first.checkout.buyer_info, SealedPersonalData)
    assert isinstance(second.checkout.buyer_info, SealedPersonalData)
    assert first.checkout.buyer_info.key_id == second.checkout.buyer_info.key_id
    assert keys_of(services, buyer_subject(buyer_id)) == [(first.checkout.buyer_info.key_id, True)]


def test_a_placement_refused_for_a_taken_order_id_leaves_no_key(services: Services) -> None:
    taken = unique("po_kwe")
    services.application.place_checkout(command(unique("co_kwe"), [taken]))
    refused = unique("co_kwe")
    with pytest.raises(PaymentOrderConflict):
        services.application.place_checkout(command(refused, [unique("po_kwe"), taken]))
    assert keys_of(services, checkout_subject(refused)) == []
    assert services.application.find(Checkout, checkout_uuid(refused)) is None


def test_the_same_checkout_again_answers_the_identical_placement_with_its_one_key(
    services: Services,
) -> None:
    checkout_id = unique("co_kwe")
    again = command(checkout_id, [f"{checkout_id}_po"])
    first = services.application.place_checkout(again)
    second = services.application.place_checkout(again)
    assert (first.created, second.created) == (True, False)
    assert second.checkout.buyer_info == first.checkout.buyer_info
    assert len(keys_of(services, checkout_subject(checkout_id))) == 1
    other = command(checkout_id, [f"{checkout_id}_po"], name="Someone else")
    with pytest.raises(CheckoutConflict):
        services.application.place_checkout(other)
    assert len(keys_of(services, checkout_subject(checkout_id))) == 1


def test_a_live_key_left_for_the_subject_seals_the_checkout(services: Services) -> None:
    """A key stored earlier without its checkout (by a release before this one, whose key
    committed alone): the new key would be a second live key, so the placement is made
    again on the stored one."""
    checkout_id = unique("co_kwe")
    left = services.personal_data.seal(checkout_subject(checkout_id), {"n": 1}).sealed.key_id
    placed = services.application.place_checkout(command(checkout_id, [f"{checkout_id}_po"]))
    sealed = placed.checkout.buyer_info
    assert isinstance(sealed, SealedPersonalData)
    assert placed.created
    assert sealed.key_id == left
    assert keys_of(services, checkout_subject(checkout_id)) == [(left, True)]
    assert services.personal_data.open(sealed).state == "readable"


def test_a_repeat_or_another_body_is_answered_after_one_failed_save(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first save (the new key with the events) finds the checkout placed: the answer
    comes from the stored one, with no second save that could only fail too."""
    checkout_id = unique("co_kwe")
    again = command(checkout_id, [f"{checkout_id}_po"])
    services.application.place_checkout(again)
    saves: list[int] = []
    record = services.application.record

    def counting(*aggregates: Any, **options: Any) -> int | None:
        saves.append(len(aggregates))
        return record(*aggregates, **options)

    monkeypatch.setattr(services.application, "record", counting)
    assert not services.application.place_checkout(again).created
    assert len(saves) == 1
    with pytest.raises(CheckoutConflict):
        services.application.place_checkout(command(checkout_id, [f"{checkout_id}_po"], x="y"))
    assert len(saves) == 2


def test_services_refuse_an_event_store_that_would_not_write_the_keys(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def library_recorder(database_url: str, *, pool_size: int = 10) -> dict[str, str]:
        env = eventsourcing_env(database_url, pool_size=pool_size)
        return {**env, "APPLICATION_RECORDER_TOPIC": LIBRARY_RECORDER}

    monkeypatch.setattr(services_module, "eventsourcing_env", library_recorder)
    settings = Settings.from_env({"PAYMENTS_DATABASE_URL": fresh_database_url})
    with pytest.raises(RuntimeError, match="recorder"):
        build_services(settings, fresh_database_url)
