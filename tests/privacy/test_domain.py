"""Personal data in the domain (ADR 0012), on the in-memory store with a fake sealer."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest

from payments.domain.application import (
    CheckoutPolicy,
    OrderLine,
    PaymentsApplication,
    PlaceCheckout,
)
from payments.domain.checkout import Checkout
from payments.domain.erasure_commands import ErasureCommands
from payments.domain.errors import CheckoutConflict, InvalidCommand
from payments.domain.money import Money
from payments.domain.payment_order import PaymentOrder
from payments.domain.personal_data import SealedPersonalData, subject_of
from tests.privacy.fakes import InMemorySealer


@pytest.fixture
def sealer() -> InMemorySealer:
    return InMemorySealer()


@pytest.fixture
def app(sealer: InMemorySealer) -> PaymentsApplication:
    return PaymentsApplication(
        CheckoutPolicy("USD", 100_000_00),
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        sealer=sealer,
    )


def command(checkout_id: str, buyer_info: dict[str, Any]) -> PlaceCheckout:
    line = OrderLine(f"{checkout_id}_po", "seller_a", Money.parse("10", "USD"))
    return PlaceCheckout(checkout_id, buyer_info, "tok_visa", {"brand": "visa"}, (line,))


def stored_states(app: PaymentsApplication) -> str:
    return "\n".join(n.state.decode() for n in app.recorder.select_notifications(1, 100))


def test_the_subject_is_the_buyer_id_else_the_checkout() -> None:
    assert subject_of({"buyer_id": "b_1", "name": "Ada"}, "co_1") == "buyer:b_1"
    assert subject_of({"name": "Ada"}, "co_1") == "checkout:co_1"
    assert subject_of({}, "co_1") == "checkout:co_1"


def test_buyer_info_is_stored_sealed_never_in_clear(
    app: PaymentsApplication, sealer: InMemorySealer
) -> None:
    buyer = {"buyer_id": "b_ada", "name": "Ada Lovelace", "email": "ada@example.com"}
    placement = app.place_checkout(command("co_1", buyer))
    assert sealer.subjects == ["buyer:b_ada"]
    stored = stored_states(app)
    for text in ("Ada Lovelace", "ada@example.com", "b_ada"):
        assert text not in stored
    checkout = app.get_checkout("co_1")
    assert isinstance(checkout.buyer_info, SealedPersonalData)
    assert checkout.buyer_info.key_id == sealer.keys["buyer:b_ada"]
    assert sealer.sealed[checkout.buyer_info.ciphertext] == buyer
    assert placement.checkout.buyer_info == checkout.buyer_info


def test_one_buyer_shares_one_key_and_a_buyer_without_id_gets_the_checkouts(
    app: PaymentsApplication, sealer: InMemorySealer
) -> None:
    app.place_checkout(command("co_1", {"buyer_id": "b_1", "name": "A"}))
    app.place_checkout(command("co_2", {"buyer_id": "b_1", "name": "A"}))
    app.place_checkout(command("co_3", {"name": "B"}))
    keys = {c: app.get_checkout(c).buyer_info.key_id for c in ("co_1", "co_2", "co_3")}  # type: ignore[union-attr]
    assert keys["co_1"] == keys["co_2"] != keys["co_3"]
    assert sealer.subjects == ["buyer:b_1", "buyer:b_1", "checkout:co_3"]


def test_an_identical_repeat_is_recognised_and_other_buyer_info_conflicts(
    app: PaymentsApplication,
) -> None:
    app.place_checkout(command("co_1", {"buyer_id": "b_1", "name": "A"}))
    again = app.place_checkout(command("co_1", {"buyer_id": "b_1", "name": "A"}))
    assert not again.created
    with pytest.raises(CheckoutConflict):
        app.place_checkout(command("co_1", {"buyer_id": "b_1", "name": "Someone else"}))
    assert app.recorder.max_notification_id() == 2


def test_the_fingerprint_does_not_hash_buyer_info_in_clear(app: PaymentsApplication) -> None:
    buyer = {"name": "Ada"}
    placed = command("co_1", buyer)
    checkout = app.place_checkout(placed).checkout
    assert checkout.content_fingerprint != placed.legacy_fingerprint()


def test_after_the_key_is_erased_a_repeat_cannot_be_matched_and_conflicts(
    app: PaymentsApplication, sealer: InMemorySealer
) -> None:
    app.place_checkout(command("co_1", {"name": "A"}))
    sealer.erase("checkout:co_1")
    with pytest.raises(CheckoutConflict):
        app.place_checkout(command("co_1", {"name": "A"}))


@pytest.mark.parametrize("buyer_id", ["", 42, None, "b" * 129, ["b_1"]])
def test_a_buyer_id_must_be_a_short_non_empty_string(
    app: PaymentsApplication, sealer: InMemorySealer, buyer_id: object
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        app.place_checkout(command("co_1", {"buyer_id": buyer_id}))
    assert [e.field for e in refused.value.errors] == ["buyer_info.buyer_id"]
    assert sealer.subjects == []  # refused before any key was made
    assert app.recorder.max_notification_id() is None


def test_a_checkout_cannot_be_recorded_with_buyer_info_in_clear() -> None:
    with pytest.raises(TypeError, match="sealed"):
        Checkout(
            checkout_id="co_1",
            buyer_info={"name": "Ada"},  # type: ignore[arg-type]
            card_token="tok",
            card_details={},
            payment_order_ids=[],
            content_fingerprint="x",
        )


def legacy_checkout(app: PaymentsApplication, checkout_id: str, buyer: dict[str, Any]) -> None:
    """A checkout as versions before ADR 0012 recorded it (topic v1, buyer_info in clear)."""
    placed = command(checkout_id, buyer)
    checkout = Checkout._create(
        Checkout.CreatedInClear,
        id=Checkout.create_id(checkout_id),
        checkout_id=checkout_id,
        buyer_info=buyer,
        card_token=placed.card_token,
        card_details=placed.card_details,
        payment_order_ids=[line.payment_order_id for line in placed.orders],
        content_fingerprint=placed.legacy_fingerprint(),
    )
    orders = [
        PaymentOrder(
            payment_order_id=line.payment_order_id,
            checkout_id=checkout_id,
            seller_account=line.seller_account,
            amount_minor=line.amount.minor,
            currency=line.amount.currency,
            card_token=placed.card_token,
            commission_minor=0,
            funds_held=False,
        )
        for line in placed.orders
    ]
    app.record(checkout, *orders)


def test_a_checkout_recorded_in_clear_still_loads_and_a_repeat_matches_it(
    app: PaymentsApplication,
) -> None:
    legacy_checkout(app, "co_old", {"name": "Old Buyer"})
    notification = app.recorder.select_notifications(1, 1)[0]
    assert notification.topic == "payments.Checkout.Created.v1"
    assert json.loads(notification.state)["buyer_info"] == {"name": "Old Buyer"}
    checkout = app.get_checkout("co_old")
    assert checkout.buyer_info == {"name": "Old Buyer"}
    assert isinstance(app.mapper.to_domain_event(notification), Checkout.Created)
    again = app.place_checkout(command("co_old", {"name": "Old Buyer"}))
    assert not again.created
    with pytest.raises(CheckoutConflict):
        app.place_checkout(command("co_old", {"name": "Someone Else"}))
    assert app.recorder.max_notification_id() == 2


def test_an_erasure_is_recorded_once_without_personal_data(app: PaymentsApplication) -> None:
    commands = ErasureCommands(app)
    erasure_id, keys = uuid4(), [uuid4(), uuid4()]
    first = commands.record(erasure_id, "d1g35t", keys, "cli:ops")
    again = commands.record(erasure_id, "d1g35t", keys, "cli:ops")
    assert again.id == first.id == erasure_id
    assert app.recorder.max_notification_id() == 1
    (notification,) = app.recorder.select_notifications(1, 10)
    assert notification.topic == "payments.Erasure.Created.v1"
    stored = commands.find(erasure_id)
    assert stored is not None
    assert stored.key_ids == sorted(k.hex for k in keys)
    assert (stored.subject_digest, stored.requested_by) == ("d1g35t", "cli:ops")
