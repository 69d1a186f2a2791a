"""Risk rules before a charge (issue #17): what they say and how an order is judged, pure.

A deployment's rules come from a TOML file (runtime/risk_rules.py parses and validates it
into the dataclasses below). `evaluate` judges a checkout's orders one by one, in their
order, against the counts the velocity counters hold (domain/risk.py); each order's verdict
is allow, review or decline, with the rule that decided and the numbers that triggered it.
A decline beats a review; among rules of the same action the first in the file wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum


class Outcome(Enum):
    ALLOW = "allow"
    REVIEW = "review"
    DECLINE = "decline"


class KeyKind(Enum):
    """What a velocity counter counts by."""

    CARD = "card_fingerprint"
    BUYER = "buyer"
    SELLER = "seller"


@dataclass(frozen=True, slots=True)
class RuleBase:
    """What every rule has: its name in the file and what it does to an order it triggers on."""

    name: str
    action: Outcome


@dataclass(frozen=True, slots=True)
class AmountRule(RuleBase):
    max_order_minor: int | None = None
    max_checkout_minor: int | None = None


@dataclass(frozen=True, slots=True)
class VelocityRule(RuleBase):
    key: KeyKind
    window_s: int
    max_count: int | None = None
    max_amount_minor: int | None = None


@dataclass(frozen=True, slots=True)
class BlocklistRule(RuleBase):
    card_fingerprints: frozenset[str] = frozenset()
    buyers: frozenset[str] = frozenset()
    sellers: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class NewSellerRule(RuleBase):
    """Limits while a seller is new: within its first `first_orders` orders and/or its first
    `first_days` days (from its first order), an order above `max_order_minor` triggers."""

    max_order_minor: int
    first_orders: int | None = None
    first_days: int | None = None


Rule = AmountRule | VelocityRule | BlocklistRule | NewSellerRule


class RiskRules:
    """A deployment's rules, in the file's order. A plain class, not a dataclass: settings
    that hold it are inspected as types by Litestar, which refuses unions of dataclasses."""

    __slots__ = ("rules",)

    def __init__(self, rules: tuple[Rule, ...] = ()) -> None:
        self.rules = rules

    def __repr__(self) -> str:
        return f"RiskRules({self.rules!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RiskRules) and other.rules == self.rules

    def __hash__(self) -> int:
        return hash(self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def horizon_s(self, key: KeyKind) -> int:
        """How long a counter of that kind keeps entries: its longest velocity window."""
        windows = [r.window_s for r in self.rules if isinstance(r, VelocityRule) and r.key is key]
        return max(windows, default=0)

    def counted_kinds(self) -> frozenset[KeyKind]:
        """The key kinds whose counters the rules read (velocity, and sellers for new_seller)."""
        kinds = {r.key for r in self.rules if isinstance(r, VelocityRule)}
        if any(isinstance(r, NewSellerRule) for r in self.rules):
            kinds.add(KeyKind.SELLER)
        return frozenset(kinds)


NO_RULES = RiskRules()


@dataclass(frozen=True, slots=True)
class Window:
    """What a counter holds: entries (at, amount) in its horizon, and its whole history's
    count and first entry (for new sellers)."""

    entries: tuple[tuple[datetime, int], ...] = ()
    total_count: int = 0
    first_at: datetime | None = None

    def within(self, now: datetime, window_s: int) -> tuple[int, int]:
        """(count, amount) of entries after now - window_s."""
        since = now - timedelta(seconds=window_s)
        inside = [amount for at, amount in self.entries if at > since]
        return len(inside), sum(inside)

    def plus(self, now: datetime, amount_minor: int) -> Window:
        return Window(
            (*self.entries, (now, amount_minor)), self.total_count + 1, self.first_at or now
        )


@dataclass(frozen=True, slots=True)
class OrderFacts:
    payment_order_id: str
    seller_account: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class CheckoutFacts:
    """What the rules see of a checkout; `keys` holds each key kind's value for it (the card's
    fingerprint, the buyer's pseudonym when the buyer has an id) and `buyer_id` the buyer's
    id in clear for the blocklist (never recorded)."""

    card_fingerprint: str
    buyer_id: str | None
    buyer_key: str | None
    orders: tuple[OrderFacts, ...]

    def key_of(self, kind: KeyKind, order: OrderFacts) -> str | None:
        if kind is KeyKind.CARD:
            return self.card_fingerprint
        if kind is KeyKind.BUYER:
            return self.buyer_key
        return order.seller_account


@dataclass(frozen=True, slots=True)
class Verdict:
    payment_order_id: str
    outcome: Outcome
    rule: str | None = None  # None when allowed
    numbers: Mapping[str, int] = field(default_factory=dict)
    detail: str = ""


def evaluate(
    rules: RiskRules,
    checkout: CheckoutFacts,
    windows: Mapping[tuple[KeyKind, str], Window],
    now: datetime,
) -> list[Verdict]:
    """Each order's verdict, in order. An order that is not declined counts towards the
    windows the orders after it see (as it will in the counters once saved)."""
    seen = dict(windows)
    total = sum(o.amount_minor for o in checkout.orders)
    verdicts: list[Verdict] = []
    for order in checkout.orders:
        hits = [
            hit
            for rule in rules.rules
            if (hit := _judge(rule, checkout, order, total, seen, now)) is not None
        ]
        verdict = next((h for h in hits if h.outcome is Outcome.DECLINE), None) or next(
            iter(hits), Verdict(order.payment_order_id, Outcome.ALLOW)
        )
        verdicts.append(verdict)
        if verdict.outcome is not Outcome.DECLINE:
            for kind in rules.counted_kinds():
                key = checkout.key_of(kind, order)
                if key is not None:
                    seen[kind, key] = seen.get((kind, key), Window()).plus(now, order.amount_minor)
    return verdicts


def _judge(
    rule: Rule,
    checkout: CheckoutFacts,
    order: OrderFacts,
    checkout_total: int,
    windows: Mapping[tuple[KeyKind, str], Window],
    now: datetime,
) -> Verdict | None:
    def hit(detail: str, **numbers: int) -> Verdict:
        return Verdict(order.payment_order_id, rule.action, rule.name, numbers, detail)

    if isinstance(rule, AmountRule):
        if rule.max_order_minor is not None and order.amount_minor > rule.max_order_minor:
            return hit(
                "order amount above the limit",
                amount=order.amount_minor,
                max_order_amount=rule.max_order_minor,
            )
        if rule.max_checkout_minor is not None and checkout_total > rule.max_checkout_minor:
            return hit(
                "checkout amount above the limit",
                checkout_amount=checkout_total,
                max_checkout_amount=rule.max_checkout_minor,
            )
        return None
    if isinstance(rule, BlocklistRule):
        if checkout.card_fingerprint in rule.card_fingerprints:
            return hit("card fingerprint is blocked")
        if checkout.buyer_id is not None and checkout.buyer_id in rule.buyers:
            return hit("buyer is blocked")
        if order.seller_account in rule.sellers:
            return hit("seller is blocked")
        return None
    key = checkout.key_of(rule.key if isinstance(rule, VelocityRule) else KeyKind.SELLER, order)
    if key is None:
        return None  # a buyer without an id has no buyer counter
    if isinstance(rule, VelocityRule):
        window = windows.get((rule.key, key), Window())
        count, amount = window.within(now, rule.window_s)
        if rule.max_count is not None and count + 1 > rule.max_count:
            return hit(
                f"more than {rule.max_count} orders per {rule.key.value} in {rule.window_s} s",
                count=count + 1,
                max_count=rule.max_count,
                window_s=rule.window_s,
            )
        limit = rule.max_amount_minor
        if limit is not None and amount + order.amount_minor > limit:
            return hit(
                f"amount per {rule.key.value} in {rule.window_s} s above the limit",
                amount=amount + order.amount_minor,
                max_amount=limit,
                window_s=rule.window_s,
            )
        return None
    window = windows.get((KeyKind.SELLER, key), Window())
    if order.amount_minor <= rule.max_order_minor or not _is_new(rule, window, now):
        return None
    return hit(
        "order above the limit for a new seller",
        amount=order.amount_minor,
        max_order_amount=rule.max_order_minor,
        seller_orders=window.total_count,
    )


def _is_new(rule: NewSellerRule, window: Window, now: datetime) -> bool:
    if rule.first_orders is not None and window.total_count < rule.first_orders:
        return True
    if rule.first_days is not None:
        return window.first_at is None or now - window.first_at < timedelta(days=rule.first_days)
    return False


def summarise(verdicts: Sequence[Verdict]) -> Outcome:
    """The checkout's outcome as a whole: the strictest of its orders'."""
    outcomes = {v.outcome for v in verdicts}
    for outcome in (Outcome.DECLINE, Outcome.REVIEW):
        if outcome in outcomes:
            return outcome
    return Outcome.ALLOW
