"""Random but realistic event histories: checkouts, orders and their outcomes, via the domain."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from payments.domain.application import PaymentsApplication
from payments.domain.checkout import Checkout
from payments.domain.execution import FailureCode
from payments.domain.payment_order import PaymentOrder
from payments.domain.personal_data import SealedPersonalData

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


@dataclass
class History:
    checkouts: int = 0
    orders: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def apply_outcome(order: PaymentOrder, outcome: str, rng: random.Random) -> None:
    if outcome == "not_started":
        return
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


def make_history(
    app: PaymentsApplication,
    orders: int,
    *,
    seed: int = 0,
    sellers: int = 20,
    per_save: int = 20,
    prefix: str = "h",
) -> History:
    """Record about `orders` payment orders in checkouts of 1-4, each with a random outcome.

    Creation and outcomes are saved separately, many aggregates per save (fast to write).
    """
    rng = random.Random(seed)
    history = History()
    pending: list[tuple[Checkout, list[PaymentOrder]]] = []

    def flush() -> None:
        app.save(*(a for c, os in pending for a in (c, *os)))
        for _, placed in pending:
            for order in placed:
                outcome = rng.choice(OUTCOMES)
                history.outcomes[outcome] = history.outcomes.get(outcome, 0) + 1
                apply_outcome(order, outcome, rng)
        app.save(*(o for _, os in pending for o in os))
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
        placed = [
            PaymentOrder(
                payment_order_id=order_id,
                checkout_id=checkout_id,
                seller_account=f"seller_{rng.randrange(sellers)}",
                amount_minor=rng.randint(1, 100_000),
                currency="USD",
                card_token="tok_test",
                commission_minor=0,
                funds_held=False,
            )
            for order_id in ids
        ]
        pending.append((checkout, placed))
        history.checkouts += 1
        history.orders += len(placed)
        if len(pending) >= per_save:
            flush()
    if pending:
        flush()
    return history
