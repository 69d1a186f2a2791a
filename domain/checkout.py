"""Checkout: a buyer's basket of payment orders (the seed's payment_event)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain.ids import checkout_uuid


class Checkout(Aggregate):
    TOPIC = "payments.Checkout"

    class Created(Aggregate.Created):
        TOPIC = "payments.Checkout.Created.v1"
        checkout_id: str
        buyer_info: dict[str, Any]
        card_token: str
        card_details: dict[str, Any]
        payment_order_ids: list[str]
        content_fingerprint: str

    class PaymentDone(Aggregate.Event):
        TOPIC = "payments.Checkout.PaymentDone.v1"
        succeeded: int
        failed: int

    @staticmethod
    def create_id(checkout_id: str) -> UUID:
        return checkout_uuid(checkout_id)

    @event(Created)
    def __init__(
        self,
        checkout_id: str,
        buyer_info: dict[str, Any],
        card_token: str,
        card_details: dict[str, Any],
        payment_order_ids: list[str],
        content_fingerprint: str,
    ) -> None:
        self.checkout_id = checkout_id
        self.buyer_info = buyer_info
        self.card_token = card_token
        self.card_details = card_details
        self.payment_order_ids = payment_order_ids
        self.content_fingerprint = content_fingerprint
        self.is_payment_done = False

    def mark_payment_done(self, succeeded: int, failed: int) -> None:
        """All orders reached SUCCESS or FAILED; idempotent."""
        if not self.is_payment_done:
            self._payment_done(succeeded=succeeded, failed=failed)

    @event(PaymentDone)
    def _payment_done(self, succeeded: int, failed: int) -> None:
        self.is_payment_done = True
