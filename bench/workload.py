"""The checkouts every ingest mode writes: same bodies over HTTP, through the app, and raw."""

from __future__ import annotations

from typing import Any

import msgspec

from payments.api.routes.payments import to_command
from payments.api.schemas import CheckoutRequest
from payments.domain.application import PlaceCheckout

ORDERS_PER_CHECKOUT = 3


def checkout_id(prefix: str, index: int) -> str:
    return f"{prefix}_{index}"


def checkout_body(prefix: str, index: int, token: str = "tok_bench0000") -> dict[str, Any]:
    """A valid POST /payments body: 3 orders to 3 sellers, amounts in USD."""
    cid = checkout_id(prefix, index)
    return {
        "buyer_info": {"name": "Bench Buyer", "email": f"buyer{index}@example.com"},
        "checkout_id": cid,
        "credit_card_info": {"token": token, "brand": "visa", "last4": "4242"},
        "payment_orders": [
            {
                "seller_account": f"seller_{(index + n) % 50}",
                "amount": f"{10 + (index % 90)}.{n * 25:02d}",
                "currency": "USD",
                "payment_order_id": f"{cid}_{n}",
            }
            for n in range(ORDERS_PER_CHECKOUT)
        ],
    }


def place_command(prefix: str, index: int, token: str = "tok_bench0000") -> PlaceCheckout:
    """The domain command the API would build from the same body."""
    request = msgspec.convert(checkout_body(prefix, index, token), CheckoutRequest)
    return to_command(request, "USD")
