"""PaymentsApplication commands against the in-memory event store (pure domain)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from payments.domain.application import (
    OrderLine,
    PaymentsApplication,
    PlaceCheckout,
)
from payments.domain.checkout import Checkout
from payments.domain.errors import CheckoutConflict, InvalidCommand, NotFound, PaymentOrderConflict
from payments.domain.execution import FailureCode
from payments.domain.ids import checkout_uuid
from payments.domain.money import Money
from payments.domain.payment_order import PaymentOrder, Status
from payments.domain.seller_wallet import SellerWallet
from tests.unit.apps import make_app


@pytest.fixture
def app() -> PaymentsApplication:
    return make_app()


def command(checkout_id: str = "co_1", *amounts: str, order_prefix: str = "po") -> PlaceCheckout:
    amounts = amounts or ("10.50", "3")
    return PlaceCheckout(
        checkout_id=checkout_id,
        buyer_info={"email": "buyer@example.com"},
        card_token="tok_visa",
        card_details={"brand": "visa", "last4": "4242"},
        orders=tuple(
            OrderLine(f"{order_prefix}_{i}", f"seller_{i}", Money.parse(a, "USD"))
            for i, a in enumerate(amounts)
        ),
    )


def test_place_checkout_creates_checkout_and_orders_in_one_save(app: PaymentsApplication) -> None:
    placement = app.place_checkout(command())
    assert placement.created
    assert placement.position == 3
    topics = [n.topic for n in app.recorder.select_notifications(1, 10)]
    assert topics == [
        "payments.Checkout.Created.v2",
        "payments.PaymentOrder.Created.v1",
        "payments.PaymentOrder.Created.v1",
    ]
    order = app.get_order("po_0")
    assert (order.status, order.amount_minor, order.checkout_id) == (
        Status.NOT_STARTED,
        1050,
        "co_1",
    )


def test_identical_repeat_returns_existing_without_new_events(app: PaymentsApplication) -> None:
    app.place_checkout(command())
    again = app.place_checkout(command())
    assert not again.created
    assert app.recorder.max_notification_id() == 3


def test_reused_checkout_id_with_other_content_conflicts(app: PaymentsApplication) -> None:
    app.place_checkout(command())
    with pytest.raises(CheckoutConflict):
        app.place_checkout(command("co_1", "99"))


def test_reused_payment_order_id_in_another_checkout_conflicts(app: PaymentsApplication) -> None:
    app.place_checkout(command())
    with pytest.raises(PaymentOrderConflict):
        app.place_checkout(command("co_2"))
    assert app.recorder.max_notification_id() == 3


@pytest.mark.parametrize(
    ("amounts", "field"),
    [(("0",), "payment_orders[0].amount"), (("100000.01",), "payment_orders[0].amount")],
)
def test_amount_outside_limits_is_refused(
    app: PaymentsApplication, amounts: tuple[str, ...], field: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        app.place_checkout(command("co_9", *amounts))
    assert [e.field for e in refused.value.errors] == [field]


def test_duplicate_order_ids_inside_one_checkout_are_refused(app: PaymentsApplication) -> None:
    duplicate = command()
    lines = (duplicate.orders[0], duplicate.orders[0])
    bad = PlaceCheckout("co_3", {}, "tok_x", {}, lines)
    with pytest.raises(InvalidCommand) as refused:
        app.place_checkout(bad)
    assert refused.value.errors[0].field == "payment_orders[1].payment_order_id"


def test_failure_code_enum_round_trips_through_the_store(app: PaymentsApplication) -> None:
    app.place_checkout(command())
    order = app.get_order("po_0")
    order.start_execution()
    order.record_failure(FailureCode.INSUFFICIENT_FUNDS, "no funds", None, source="psp")
    app.save(order)
    stored = app.repository.get(order.id)
    assert stored.failure_code is FailureCode.INSUFFICIENT_FUNDS


def test_unknown_order_is_not_found(app: PaymentsApplication) -> None:
    with pytest.raises(NotFound):
        app.get_order("nope")


def test_find_replays_as_the_library_does_with_snapshots_where_a_kind_has_them(
    app: PaymentsApplication,
) -> None:
    """`find` replays without the library's per-event protocol check, and without asking for
    a snapshot of a kind never snapshotted: the same state as `repository.get`."""
    app.place_checkout(command())
    order = app.get_order("po_0")
    order.start_execution()
    order.record_failure(FailureCode.CARD_DECLINED, "declined", "ch_1", source="psp")
    app.save(order)
    for kind, aggregate_id in ((PaymentOrder, order.id), (Checkout, checkout_uuid("co_1"))):
        found = app.find(kind, aggregate_id)
        assert found is not None
        assert vars(found) == vars(app.repository.get(aggregate_id))
        assert app.find(SellerWallet, aggregate_id) is None  # another kind
    wallet = SellerWallet(seller_account="seller_0", currency="USD")
    for position in range(1, 251):  # snapshots at versions 100 and 200
        wallet.move(position, 10, 1)
    app.save(wallet)
    assert [s.originator_version for s in app.snapshots.get(wallet.id)] == [100, 200]
    found_wallet = app.find_wallet("seller_0")
    assert found_wallet is not None
    assert (found_wallet.version, found_wallet.available_minor) == (251, 2500)
    assert app.find(PaymentOrder, uuid4()) is None
    assert app.load(uuid4(), snapshots=False) is None
