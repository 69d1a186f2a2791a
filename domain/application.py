"""The payments application: command methods over the event store (no I/O of its own)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from eventsourcing.utils import EnvType

from payments.domain.checkout import Checkout
from payments.domain.errors import (
    CheckoutConflict,
    FieldError,
    InvalidCommand,
    NotFound,
    PaymentOrderConflict,
)
from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.domain.money import Money
from payments.domain.payment_order import FailureCode, PaymentOrder
from payments.domain.seller_wallet import SellerWallet

MAX_ORDERS_PER_CHECKOUT = 100
A = TypeVar("A", bound=Aggregate)


class EnumAsValue(Transcoding):
    """Stores an Enum member as {"_type_": name, "_data_": value}, decoded back to the member."""

    def __init__(self, enum_type: type[Enum], name: str) -> None:
        self.type = enum_type
        self.name = name

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        member: Enum = self.type(data)
        return member


@dataclass(frozen=True, slots=True)
class CheckoutPolicy:
    """Deployment rules for checkouts: the one currency and the largest order amount."""

    currency: str
    max_amount_minor: int


@dataclass(frozen=True, slots=True)
class OrderLine:
    payment_order_id: str
    seller_account: str
    amount: Money


@dataclass(frozen=True, slots=True)
class PlaceCheckout:
    checkout_id: str
    buyer_info: dict[str, Any]
    card_token: str
    card_details: dict[str, Any]
    orders: tuple[OrderLine, ...]

    def fingerprint(self) -> str:
        """A stable hash of the content, to tell an identical repeat from a conflicting reuse."""
        content = {
            "checkout_id": self.checkout_id,
            "buyer_info": self.buyer_info,
            "card_token": self.card_token,
            "card_details": self.card_details,
            "orders": [
                [o.payment_order_id, o.seller_account, o.amount.minor, o.amount.currency]
                for o in self.orders
            ],
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Placement:
    """What place_checkout did: the checkout, its orders, whether it was new, its position."""

    checkout: Checkout
    orders: list[PaymentOrder]
    created: bool
    position: int | None = field(default=None)


class PaymentsApplication(Application[UUID]):
    name = "Payments"
    # A busy seller's wallet gets an event per follower batch; replay from a recent snapshot.
    snapshotting_intervals = {SellerWallet: 100}

    def __init__(self, policy: CheckoutPolicy, env: EnvType | None = None) -> None:
        super().__init__(env)
        self.policy = policy

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(EnumAsValue(FailureCode, "payments.FailureCode"))

    # --- checkouts ------------------------------------------------------------------

    def place_checkout(self, command: PlaceCheckout) -> Placement:
        """Create a checkout and its orders atomically, or return the identical existing one."""
        self._validate(command)
        fingerprint = command.fingerprint()
        # New checkouts are the common case: save first; a taken id shows as IntegrityError.
        checkout = Checkout(
            checkout_id=command.checkout_id,
            buyer_info=command.buyer_info,
            card_token=command.card_token,
            card_details=command.card_details,
            payment_order_ids=[o.payment_order_id for o in command.orders],
            content_fingerprint=fingerprint,
        )
        orders = [
            PaymentOrder(
                payment_order_id=line.payment_order_id,
                checkout_id=command.checkout_id,
                seller_account=line.seller_account,
                amount_minor=line.amount.minor,
                currency=line.amount.currency,
                card_token=command.card_token,
            )
            for line in command.orders
        ]
        try:
            recordings = self.save(checkout, *orders)
        except IntegrityError:
            # Already placed, lost a race, or an order id is taken: decide from what is stored.
            existing = self._existing_placement(command, fingerprint)
            if existing is not None:
                return existing
            for line in command.orders:
                if self._find(PaymentOrder, payment_order_uuid(line.payment_order_id)):
                    raise PaymentOrderConflict(line.payment_order_id) from None
            raise
        return Placement(checkout, orders, created=True, position=recordings[-1].notification.id)

    def _validate(self, command: PlaceCheckout) -> None:
        errors: list[FieldError] = []
        if not 1 <= len(command.orders) <= MAX_ORDERS_PER_CHECKOUT:
            errors.append(
                FieldError(
                    "payment_orders",
                    f"must hold between 1 and {MAX_ORDERS_PER_CHECKOUT} orders",
                )
            )
        seen: set[str] = set()
        for index, line in enumerate(command.orders):
            path = f"payment_orders[{index}]"
            if line.payment_order_id in seen:
                errors.append(
                    FieldError(f"{path}.payment_order_id", "appears twice in this checkout")
                )
            seen.add(line.payment_order_id)
            if line.amount.currency != self.policy.currency:
                errors.append(
                    FieldError(
                        f"{path}.currency",
                        f"this deployment accepts {self.policy.currency} only",
                    )
                )
            if line.amount.minor <= 0:
                errors.append(FieldError(f"{path}.amount", "must be greater than zero"))
            elif line.amount.minor > self.policy.max_amount_minor:
                limit = Money(self.policy.max_amount_minor, line.amount.currency).format()
                errors.append(FieldError(f"{path}.amount", f"must be at most {limit}"))
        if errors:
            raise InvalidCommand(errors)

    def _existing_placement(self, command: PlaceCheckout, fingerprint: str) -> Placement | None:
        checkout = self._find(Checkout, checkout_uuid(command.checkout_id))
        if checkout is None:
            return None
        if checkout.content_fingerprint != fingerprint:
            raise CheckoutConflict(command.checkout_id)
        orders = [self.get_order(order_id) for order_id in checkout.payment_order_ids]
        return Placement(checkout, orders, created=False)

    # --- reads ----------------------------------------------------------------------

    def get_order(self, payment_order_id: str) -> PaymentOrder:
        order = self._find(PaymentOrder, payment_order_uuid(payment_order_id))
        if order is None:
            raise NotFound(f"payment order {payment_order_id!r} not found")
        return order

    def get_checkout(self, checkout_id: str) -> Checkout:
        checkout = self._find(Checkout, checkout_uuid(checkout_id))
        if checkout is None:
            raise NotFound(f"checkout {checkout_id!r} not found")
        return checkout

    def _find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None


class OrderCommands:
    """Commands on existing payment orders that retry once more on a concurrent write."""

    def __init__(self, application: PaymentsApplication, attempts: int = 5) -> None:
        self.application = application
        self.attempts = attempts

    def record_success(self, payment_order_id: str, psp_reference: str, source: str) -> bool:
        return self._apply(
            payment_order_id, lambda order: order.record_success(psp_reference, source)
        )

    def record_failure(
        self,
        payment_order_id: str,
        code: FailureCode,
        reason: str,
        psp_reference: str | None,
        source: str,
    ) -> bool:
        return self._apply(
            payment_order_id,
            lambda order: order.record_failure(code, reason, psp_reference, source),
        )

    def replay_dead_letter(self, payment_order_id: str, reason: str) -> int | None:
        """Send a dead-lettered order back to the executor; returns the event position."""
        order = self.application.get_order(payment_order_id)
        order.replay_dead_letter(reason)
        recordings = self.application.save(order)
        return recordings[-1].notification.id if recordings else None

    def _apply(self, payment_order_id: str, change: Callable[[PaymentOrder], bool]) -> bool:
        return change_with_retry(
            self.application,
            lambda: self.application.get_order(payment_order_id),
            change,
            self.attempts,
        )


def change_with_retry(
    application: Application[UUID],
    load: Callable[[], A],
    change: Callable[[A], bool],
    attempts: int = 5,
) -> bool:
    """Load, change and save one aggregate; on a concurrent write, decide again on fresh state."""
    for attempt in range(attempts):
        aggregate = load()
        changed = change(aggregate)
        try:
            application.save(aggregate)
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            continue  # someone else wrote it meanwhile
        return changed
    return False
