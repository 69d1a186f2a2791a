"""Random but realistic event histories: checkouts, orders and their outcomes, via the domain."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from payments.domain.application import PaymentsApplication
from payments.domain.checkout import Checkout
from payments.domain.commission import Commission, RefundCommissionPolicy
from payments.domain.execution import FailureCode
from payments.domain.payment_order import PaymentOrder
from payments.domain.personal_data import SealedPersonalData
from payments.domain.refund import Refund
from payments.domain.refund_commands import reserved_refund

# Sealed under no key (it reads as unreadable): these histories are for the ledger, audit
# and reconciliation benchmarks, which never read buyer_info.
NO_BUYER_INFO = SealedPersonalData(key_id=UUID(int=0), ciphertext=b"")
OUTCOMES = (
    "not_started",
    "executing",
    "retrying",
    "success",
    "success",
    "success",
    "declined",
    "pending_then_success",
    "dead_letter_then_success",
    "success_then_discrepancy",
)
# Marketplace money (ADR 0014), when a commission is given: orders are held until released,
# and some captures are released (as settlement does) and some then partly refunded.
MONEY_OUTCOMES = (*OUTCOMES, "success_then_release", "success_then_release", "release_then_refund")


@dataclass
class History:
    checkouts: int = 0
    orders: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def apply_outcome(order: PaymentOrder, outcome: str, rng: random.Random) -> list[Aggregate]:
    """Apply one outcome to a new order; the other aggregates it created (a refund)."""
    if outcome == "not_started":
        return []
    order.start_execution()
    ref = f"ch_{order.payment_order_id}"
    if outcome == "retrying":
        order.schedule_retry(
            "psp timeout", datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 99))
        )
    elif outcome == "success":
        order.record_success(ref, source="test")
    elif outcome == "declined":
        order.record_failure(FailureCode.CARD_DECLINED, "card declined", ref, source="test")
    elif outcome == "pending_then_success":
        order.mark_pending(ref)
        order.record_success(ref, source="webhook")
    elif outcome == "dead_letter_then_success":
        order.schedule_retry("psp 503", datetime(2030, 1, 1, tzinfo=UTC))
        order.dead_letter()
        order.replay_dead_letter("operator", actor="bench")
        order.start_execution()
        order.record_success(ref, source="test")
    elif outcome == "success_then_discrepancy":
        order.record_success(ref, source="test")
        order.record_failure(FailureCode.CARD_DECLINED, "late decline", ref, source="webhook")
    elif outcome == "success_then_release":
        order.record_success(ref, source="test")
        order.release_funds("settled")
    elif outcome == "release_then_refund":
        order.record_success(ref, source="test")
        order.release_funds("settled")
        return [refund_part(order, ref, rng)]
    return []


def refund_part(order: PaymentOrder, charge_reference: str, rng: random.Random) -> Refund:
    """A succeeded partial refund of a captured order, reserved and completed on the order."""
    refund_id = f"re_{order.payment_order_id}"
    amount = rng.randint(1, order.refundable_minor)
    refund = reserved_refund(
        order,
        refund_id,
        amount,
        RefundCommissionPolicy.KEEP,
        reason="bench",
        charge_reference=charge_reference,
        requested_by="bench",
    )
    refund.start_execution()
    refund.record_success(f"rf_{order.payment_order_id}", source="test")
    order.complete_refund(refund_id)
    return refund


def make_history(
    app: PaymentsApplication,
    orders: int,
    *,
    seed: int = 0,
    sellers: int = 20,
    per_save: int = 20,
    prefix: str = "h",
    commission: Commission | None = None,
) -> History:
    """Record about `orders` payment orders in checkouts of 1-4, each with a random outcome.

    Creation and outcomes are saved separately, many aggregates per save (fast to write).
    With a `commission` the orders are marketplace orders (ADR 0014): the commission taken,
    the seller's share held until released, and the outcomes include releases and partial
    refunds (MONEY_OUTCOMES); without, they are orders credited at once, as before.
    """
    rng = random.Random(seed)
    outcomes = OUTCOMES if commission is None else MONEY_OUTCOMES
    history = History()
    pending: list[tuple[Checkout, list[PaymentOrder]]] = []

    def flush() -> None:
        app.save(*(a for c, os in pending for a in (c, *os)))
        created: list[Aggregate] = []
        for _, placed in pending:
            for order in placed:
                outcome = rng.choice(outcomes)
                history.outcomes[outcome] = history.outcomes.get(outcome, 0) + 1
                created.extend(apply_outcome(order, outcome, rng))
        app.save(*(o for _, os in pending for o in os), *created)
        pending.clear()

    while history.orders < orders:
        checkout_id = f"{prefix}{seed}_{history.checkouts}"
        ids = [f"{checkout_id}_{i}" for i in range(rng.randint(1, 4))]
        checkout = Checkout(
            checkout_id=checkout_id,
            buyer_info=NO_BUYER_INFO,
            card_token="tok_test",
            card_details={},
            payment_order_ids=ids,
            content_fingerprint="bench",
        )
        placed = []
        for order_id in ids:
            seller, amount = f"seller_{rng.randrange(sellers)}", rng.randint(1, 100_000)
            placed.append(
                PaymentOrder(
                    payment_order_id=order_id,
                    checkout_id=checkout_id,
                    seller_account=seller,
                    amount_minor=amount,
                    currency="USD",
                    card_token="tok_test",
                    commission_minor=commission.of(amount) if commission else 0,
                    funds_held=commission is not None,
                )
            )
        pending.append((checkout, placed))
        history.checkouts += 1
        history.orders += len(placed)
        if len(pending) >= per_save:
            flush()
    if pending:
        flush()
    return history
