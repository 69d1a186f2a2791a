"""Checkout: a buyer's basket of payment orders (the seed's payment_event)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain.ids import checkout_uuid
from payments.domain.personal_data import PersonalData, SealedPersonalData


class Checkout(Aggregate):
    TOPIC = "payments.Checkout"

    class Created(Aggregate.Created):
        """buyer_info sealed under its subject's key (ADR 0012)."""

        TOPIC = "payments.Checkout.Created.v2"
        checkout_id: str
        buyer_info: PersonalData
        card_token: str
        card_details: dict[str, Any]
        payment_order_ids: list[str]
        content_fingerprint: str

        def __post_init__(self) -> None:
            if not isinstance(self.buyer_info, SealedPersonalData):
                raise TypeError("a checkout's buyer_info must be sealed before it is recorded")

    class CreatedInClear(Created):
        """Before ADR 0012: buyer_info as the buyer sent it. Read, never recorded any more."""

        TOPIC = "payments.Checkout.Created.v1"

        def __post_init__(self) -> None:
            pass

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
        buyer_info: SealedPersonalData,
        card_token: str,
        card_details: dict[str, Any],
        payment_order_ids: list[str],
        content_fingerprint: str,
    ) -> None:
        self.checkout_id = checkout_id
        # A dict when replayed from a CreatedInClear event.
        self.buyer_info: PersonalData = buyer_info
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
