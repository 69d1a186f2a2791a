"""The checkout command and what it answers: PlaceCheckout (with the fingerprint that tells
an identical repeat from a conflicting reuse of its id), its order lines, the deployment's
CheckoutPolicy, and the Placement that PaymentsApplication.place_checkout returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from payments.domain.checkout import Checkout
from payments.domain.commission import NO_COMMISSION, Commission, RefundCommissionPolicy
from payments.domain.errors import FieldError, InvalidCommand
from payments.domain.money import Money
from payments.domain.payment_order import PaymentOrder
from payments.domain.personal_data import buyer_id_errors, subject_of
from payments.domain.risk_rules import NO_RULES, RiskRules

MAX_ORDERS_PER_CHECKOUT = 100


@dataclass(frozen=True, slots=True)
class CheckoutPolicy:
    """Deployment rules for checkouts: the one currency, the largest order amount, the
    platform's commission and who bears it on a refund or dispute (ADR 0014)."""

    currency: str
    max_amount_minor: int
    commission: Commission = NO_COMMISSION
    refund_commission: RefundCommissionPolicy = RefundCommissionPolicy.KEEP
    risk_rules: RiskRules = NO_RULES  # checked before any charge (issue #17, ADR 0015)

    def refuse_invalid(self, command: PlaceCheckout) -> None:
        """InvalidCommand naming every field of `command` this deployment refuses."""
        errors: list[FieldError] = buyer_id_errors(command.buyer_info)
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
            if line.amount.currency != self.currency:
                errors.append(
                    FieldError(
                        f"{path}.currency",
                        f"this deployment accepts {self.currency} only",
                    )
                )
            if line.amount.minor <= 0:
                errors.append(FieldError(f"{path}.amount", "must be greater than zero"))
            elif line.amount.minor > self.max_amount_minor:
                limit = Money(self.max_amount_minor, line.amount.currency).format()
                errors.append(FieldError(f"{path}.amount", f"must be at most {limit}"))
        if errors:
            raise InvalidCommand(errors)


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

    @property
    def subject(self) -> str:
        """Whose key seals buyer_info (ADR 0012)."""
        return subject_of(self.buyer_info, self.checkout_id)

    def fingerprint(self, buyer_info_digest: str) -> str:
        """A stable hash of the content, to tell an identical repeat from a conflicting reuse.

        buyer_info enters as its digest keyed by the buyer's key, so that the stored
        fingerprint cannot confirm a guess of it, least of all once the key is erased.
        """
        return self._hash({**self._content(), "buyer_info_digest": buyer_info_digest})

    def legacy_fingerprint(self) -> str:
        """The fingerprint of checkouts recorded before ADR 0012 (buyer_info in clear)."""
        return self._hash({**self._content(), "buyer_info": self.buyer_info})

    def _content(self) -> dict[str, Any]:
        return {
            "checkout_id": self.checkout_id,
            "card_token": self.card_token,
            "card_details": self.card_details,
            "orders": [
                [o.payment_order_id, o.seller_account, o.amount.minor, o.amount.currency]
                for o in self.orders
            ],
        }

    @staticmethod
    def _hash(content: dict[str, Any]) -> str:
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Placement:
    """What place_checkout did: the checkout, its orders, whether it was new, its position."""

    checkout: Checkout
    orders: list[PaymentOrder]
    created: bool
    position: int | None = field(default=None)


class PlacementAnswer(Protocol):
    """What its caller stores with a new placement's events, in their transaction (an
    Idempotency-Key's answer, api/idempotency.py): told, before each save, the placement the
    save would create; the event store gives it the save's position (domain/group_commit.py)."""

    def answering(self, placement: Placement) -> None: ...
