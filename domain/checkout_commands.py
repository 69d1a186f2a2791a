"""When a checkout is done: every one of its orders is SUCCESS or FAILED (DESIGN §2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from payments.domain.application import PaymentsApplication
from payments.domain.checkout import Checkout
from payments.domain.payment_order import TERMINAL, PaymentOrder, Status


def mark_done_if_complete(checkout: Checkout, orders: Sequence[PaymentOrder]) -> bool:
    """Record PaymentDone when every order is SUCCESS or FAILED; say whether it did."""
    return mark_done_if_final(checkout, [cast(Status, order.status) for order in orders])


def mark_done_if_final(checkout: Checkout, statuses: Sequence[Status | None]) -> bool:
    """The same, from the status of each of the checkout's orders (None: not known final)."""
    if checkout.is_payment_done or not all(status in TERMINAL for status in statuses):
        return False
    succeeded = sum(1 for status in statuses if status is Status.SUCCESS)
    checkout.mark_payment_done(succeeded=succeeded, failed=len(statuses) - succeeded)
    return True


class CheckoutCommands:
    def __init__(self, application: PaymentsApplication) -> None:
        self.application = application

    def complete(self, candidates: Sequence[tuple[Checkout, Sequence[Status | None]]]) -> int:
        """Mark done, in one save, every candidate checkout whose orders' statuses (one for
        each of its orders, in its order) are all final; after a concurrent write, checkout
        by checkout on fresh state. Counts those saved."""
        ordered = sorted(candidates, key=lambda pair: pair[0].checkout_id)
        saved = self.application.save_each(
            ordered,
            lambda pair: pair[0] if mark_done_if_final(*pair) else None,
            lambda pair: self._completed(pair[0].checkout_id),
        )
        return len(saved)

    def _completed(self, checkout_id: str) -> Checkout | None:
        """The checkout with PaymentDone recorded, or None when it is not (or already) done."""
        checkout = self.application.get_checkout(checkout_id)
        orders = [self.application.get_order(i) for i in checkout.payment_order_ids]
        return checkout if mark_done_if_complete(checkout, orders) else None
