"""Risk commands (issue #17, ADR 0015): a checkout placed through the rules, an operator's
review of an order the rules held.

Placing: the orders' verdicts are decided on the counters' current counts and saved in the
checkout's own save with the counters that count them; a concurrent checkout on the same
counter makes one save conflict, and the loser decides again (PaymentsApplication.place_checkout
through retry_on_conflict). Nothing here reads a clock: the caller passes `now`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime

from eventsourcing.domain import Aggregate

from payments.domain.application import PaymentsApplication, PlaceCheckout, Placement
from payments.domain.checkout import Checkout
from payments.domain.payment_order import PaymentOrder
from payments.domain.personal_data import BUYER_ID_FIELD
from payments.domain.place_checkout import PlacementAnswer
from payments.domain.risk import RiskCounter, risk_counter_uuid
from payments.domain.risk_rules import (
    CheckoutFacts,
    KeyKind,
    OrderFacts,
    Outcome,
    RiskRules,
    evaluate,
)

LOCK_STRIPES = 256
FINGERPRINT_FIELD = "fingerprint"  # credit_card_info.fingerprint: the PSP's card fingerprint


def card_fingerprint(card_token: str, card_details: dict[str, object]) -> str:
    """The PSP's fingerprint of the card when the checkout gives one (same card, same
    fingerprint, whatever the token), else one derived from the token (same token only)."""
    given = card_details.get(FINGERPRINT_FIELD)
    if isinstance(given, str) and given:
        return given
    return "token:" + hashlib.sha256(card_token.encode()).hexdigest()[:32]


class RiskCommands:
    def __init__(self, application: PaymentsApplication, pseudonym: Callable[[str], str]) -> None:
        """`pseudonym` keys a buyer id (personal data) into what a buyer's counter is named by."""
        self.application = application
        self.pseudonym = pseudonym
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]

    @property
    def rules(self) -> RiskRules:
        return self.application.policy.risk_rules

    def place(
        self, command: PlaceCheckout, now: datetime, answer: PlacementAnswer | None = None
    ) -> Placement:
        """Place the checkout through the rules (none configured: as without them); `answer`
        as in PaymentsApplication.place_checkout.

        Checkouts of this process that count on one key take turns (a lock per stripe of
        keys): they would conflict on the counter anyway, and waiting is cheaper than deciding
        again. Across processes the counter's version still decides (ADR 0015)."""
        if not self.rules:
            return self.application.place_checkout(command, answer=answer)
        facts = self.facts(command)

        def assess(checkout: Checkout, orders: list[PaymentOrder]) -> list[Aggregate]:
            return self._assess(facts, orders, now)

        stripes = sorted(
            {
                hash((kind, key)) % len(self._stripes)
                for kind in self.rules.counted_kinds()
                for line in facts.orders
                if (key := facts.key_of(kind, line)) is not None
            }
        )
        with ExitStack() as held:
            for stripe in stripes:  # in one order: no two checkouts wait for each other
                held.enter_context(self._stripes[stripe])
            return self.application.place_checkout(command, assess, answer)

    def facts(self, command: PlaceCheckout) -> CheckoutFacts:
        buyer_id = command.buyer_info.get(BUYER_ID_FIELD)
        buyer_id = buyer_id if isinstance(buyer_id, str) else None
        return CheckoutFacts(
            card_fingerprint=card_fingerprint(command.card_token, command.card_details),
            buyer_id=buyer_id,
            buyer_key=None if buyer_id is None else self.pseudonym(buyer_id),
            orders=tuple(
                OrderFacts(o.payment_order_id, o.seller_account, o.amount.minor)
                for o in command.orders
            ),
        )

    def _assess(
        self, facts: CheckoutFacts, orders: list[PaymentOrder], now: datetime
    ) -> list[Aggregate]:
        """Each order's verdict recorded on it; the counters that count the orders let
        through, to be saved with them (loaded fresh: this runs again after a conflict)."""
        rules = self.rules
        counters: dict[tuple[KeyKind, str], RiskCounter] = {}
        for kind in rules.counted_kinds():
            for line in facts.orders:
                key = facts.key_of(kind, line)
                if key is not None and (kind, key) not in counters:
                    found = self.application.find(RiskCounter, risk_counter_uuid(kind, key))
                    counters[kind, key] = found or RiskCounter(kind=kind.value, key=key)
        windows = {key: counter.window for key, counter in counters.items()}
        verdicts = evaluate(rules, facts, windows, now)
        counted: dict[tuple[KeyKind, str], RiskCounter] = {}
        for order, facts_of, verdict in zip(orders, facts.orders, verdicts, strict=True):
            order.assess_risk(
                verdict.outcome.value, verdict.rule, dict(verdict.numbers), verdict.detail
            )
            if verdict.outcome is Outcome.DECLINE:
                continue
            for kind in rules.counted_kinds():
                key = facts.key_of(kind, facts_of)
                if key is not None:
                    counter = counters[kind, key]
                    counter.count(
                        order.payment_order_id, order.amount_minor, now, rules.horizon_s(kind)
                    )
                    counted[kind, key] = counter
        return list(counted.values())

    def review(self, payment_order_id: str, approved: bool, reason: str, actor: str) -> int | None:
        """An operator's decision on an order in review (`actor`: their key id); the event's
        position. IllegalTransition when the order is not in review (any more)."""

        def decide() -> list[Aggregate]:
            order = self.application.get_order(payment_order_id)
            order.review_risk(approved, reason, actor)
            return [order]

        return self.application.retry_on_conflict(decide)
