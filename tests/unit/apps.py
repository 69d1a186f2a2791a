"""The application on an in-memory store that the domain tests command, and a checkout of
one order placed in it."""

from __future__ import annotations

from payments.domain.application import (
    CheckoutPolicy,
    OrderLine,
    PaymentsApplication,
    PlaceCheckout,
)
from payments.domain.commission import Commission, RefundCommissionPolicy
from payments.domain.money import Money
from tests.privacy.fakes import InMemorySealer


def make_app(
    policy: RefundCommissionPolicy = RefundCommissionPolicy.KEEP, commission: str = "0"
) -> PaymentsApplication:
    return PaymentsApplication(
        CheckoutPolicy(
            "USD",
            100_000_00,
            commission=Commission.parse(commission, "USD"),
            refund_commission=policy,
        ),
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        sealer=InMemorySealer(),
    )


def place(
    app: PaymentsApplication,
    amount: str = "10.00",
    *,
    order_id: str = "po_1",
    seller: str = "seller_a",
) -> None:
    """A checkout `co_<order_id>` of one order of `amount` USD to `seller`."""
    app.place_checkout(
        PlaceCheckout(
            checkout_id=f"co_{order_id}",
            buyer_info={"email": "buyer@example.com"},
            card_token="tok_visa",
            card_details={},
            orders=(OrderLine(order_id, seller, Money.parse(amount, "USD")),),
        )
    )
