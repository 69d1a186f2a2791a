"""Risk rules (issue #17): the file's validation, and the pure evaluation of a checkout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from payments.domain.errors import IllegalTransition
from payments.domain.execution import FailureCode
from payments.domain.payment_order import Status
from payments.domain.risk import RiskCounter
from payments.domain.risk_rules import (
    AmountRule,
    BlocklistRule,
    CheckoutFacts,
    KeyKind,
    NewSellerRule,
    OrderFacts,
    Outcome,
    RiskRules,
    VelocityRule,
    Window,
    evaluate,
)
from payments.runtime.config import ConfigError, Settings
from payments.runtime.risk_rules import RiskRulesError, load_risk_rules, parse_risk_rules
from tests.projections.events import new_order

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def facts(
    *amounts: int, card: str = "fp_card", buyer: str | None = "b1", seller: str = "s1"
) -> CheckoutFacts:
    return CheckoutFacts(
        card_fingerprint=card,
        buyer_id=buyer,
        buyer_key=None if buyer is None else f"pseudo-{buyer}",
        orders=tuple(OrderFacts(f"po_{i}", seller, amount) for i, amount in enumerate(amounts)),
    )


def outcomes(rules: RiskRules, checkout: CheckoutFacts, windows: Any = None) -> list[str]:
    return [v.outcome.value for v in evaluate(rules, checkout, windows or {}, NOW)]


# --- the file -------------------------------------------------------------------------------


def test_the_shipped_example_is_valid() -> None:
    rules = load_risk_rules(ROOT / "risk-rules.example.toml", "USD")
    assert [r.name for r in rules.rules] == [
        "card_velocity",
        "buyer_daily_spend",
        "large_order",
        "blocked",
        "new_seller_limit",
    ]
    velocity = rules.rules[0]
    assert isinstance(velocity, VelocityRule)
    assert (velocity.key, velocity.max_count, velocity.window_s) == (KeyKind.CARD, 5, 600)
    assert rules.rules[2] == AmountRule("large_order", Outcome.REVIEW, 150000, 500000)


def rule(**fields: Any) -> dict[str, Any]:
    return {"rule": [{"name": "r1", "action": "decline", **fields}]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            rule(kind="velocity", key="card_fingerprint", max_count=3),
            "rule[0] 'r1': window_s: required",
        ),
        (
            rule(kind="velocity", key="card_fingerprint", window_s=60),
            "max_count or max_amount: required",
        ),
        (rule(kind="velocity", key="iban", window_s=60, max_count=1), "rule[0] 'r1': key:"),
        (
            rule(kind="velocity", key="buyer", window_s=60, max_count="3"),
            "rule[0] 'r1': max_count: Expected `int`",
        ),
        (rule(kind="velocity", key="buyer", window_s=0, max_count=3), "rule[0] 'r1': window_s:"),
        (rule(kind="amount", max_order_amount="12.345"), "rule[0] 'r1': max_order_amount:"),
        (rule(kind="amount", max_order_amount="0"), "max_order_amount: must be greater than zero"),
        (rule(kind="amount"), "max_order_amount or max_checkout_amount: required"),
        (
            rule(kind="amount", max_order_amount="10", buyers=["x"]),
            "buyers: not a field of a amount rule",
        ),
        (
            rule(kind="amount", max_order_amount="10", colour="red"),
            "rule[0] 'r1': Object contains unknown field `colour`",
        ),
        (rule(kind="fraud", max_order_amount="10"), "rule[0] 'r1': kind:"),
        (rule(kind="amount", max_order_amount="10", action="allow"), "rule[0] 'r1': action:"),
        (rule(kind="new_seller", max_order_amount="10"), "first_orders or first_days: required"),
        (
            {"rule": [{"kind": "amount", "action": "review", "max_order_amount": "1"}]},
            "rule[0]: Object missing required field `name`",
        ),
        ({"rules": []}, "unknown field `rules`"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_the_field(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(RiskRulesError) as error:
        parse_risk_rules(raw, "USD")
    assert message in str(error.value)


def test_two_rules_of_one_name_are_refused() -> None:
    raw = {"rule": [rule(kind="amount", max_order_amount="1")["rule"][0]] * 2}
    with pytest.raises(RiskRulesError, match=r"rule\[1\] 'r1': name: another rule has this name"):
        parse_risk_rules(raw, "USD")


def test_a_malformed_file_stops_start_up_with_the_variable_named(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[rule]]\nname = "x"\nkind = "amount"\naction = "review"\nmax_order_amount = \n'
    )
    with pytest.raises(ConfigError, match=r"PAYMENTS_RISK_RULES=.*is not valid TOML"):
        Settings.from_env({"PAYMENTS_RISK_RULES": str(path)})
    with pytest.raises(ConfigError, match="cannot read"):
        Settings.from_env({"PAYMENTS_RISK_RULES": str(tmp_path / "missing.toml")})
    path.write_text('[[rule]]\nname = "x"\nkind = "velocity"\naction = "review"\nkey = "seller"\n')
    with pytest.raises(ConfigError, match="rule\\[0\\] 'x': window_s: required"):
        Settings.from_env({"PAYMENTS_RISK_RULES": str(path)})


def test_unset_means_no_rules() -> None:
    assert not Settings.from_env({}).checkout_policy.risk_rules
    assert not Settings.from_env({"PAYMENTS_RISK_RULES": ""}).risk_rules


# --- evaluation -----------------------------------------------------------------------------


def test_amount_limits_per_order_and_per_checkout() -> None:
    rules = RiskRules(
        (AmountRule("big", Outcome.REVIEW, max_order_minor=1000, max_checkout_minor=1500),)
    )
    assert outcomes(rules, facts(1000, 500)) == ["allow", "allow"]
    assert outcomes(rules, facts(1001)) == ["review"]
    verdicts = evaluate(rules, facts(800, 800), {}, NOW)
    assert [v.outcome for v in verdicts] == [Outcome.REVIEW, Outcome.REVIEW]
    assert verdicts[0].rule == "big"
    assert verdicts[0].numbers == {"checkout_amount": 1600, "max_checkout_amount": 1500}


def test_velocity_counts_the_window_and_the_orders_before_in_the_checkout() -> None:
    rules = RiskRules((VelocityRule("card", Outcome.DECLINE, KeyKind.CARD, 60, max_count=3),))
    old = NOW - timedelta(seconds=61)
    window = Window(((old, 100), (NOW - timedelta(seconds=30), 100)), 2, old)
    got = evaluate(rules, facts(100, 100, 100), {(KeyKind.CARD, "fp_card"): window}, NOW)
    assert [v.outcome for v in got] == [Outcome.ALLOW, Outcome.ALLOW, Outcome.DECLINE]
    assert got[2].numbers == {"count": 4, "max_count": 3, "window_s": 60}
    other_card = evaluate(
        rules, facts(100, card="fp_other"), {(KeyKind.CARD, "fp_card"): window}, NOW
    )
    assert other_card[0].outcome is Outcome.ALLOW


def test_velocity_by_amount_by_buyer_and_a_buyer_without_id() -> None:
    rules = RiskRules(
        (VelocityRule("spend", Outcome.REVIEW, KeyKind.BUYER, 3600, max_amount_minor=5000),)
    )
    window = Window(((NOW - timedelta(minutes=5), 4000),), 1, NOW)
    assert outcomes(rules, facts(1000), {(KeyKind.BUYER, "pseudo-b1"): window}) == ["allow"]
    assert outcomes(rules, facts(1001), {(KeyKind.BUYER, "pseudo-b1"): window}) == ["review"]
    assert outcomes(rules, facts(99999, buyer=None)) == ["allow"]  # no buyer id: no buyer counter


def test_blocklists_and_decline_beats_review() -> None:
    rules = RiskRules(
        (
            AmountRule("big", Outcome.REVIEW, max_order_minor=10),
            BlocklistRule(
                "blocked",
                Outcome.DECLINE,
                frozenset({"fp_bad"}),
                frozenset({"b9"}),
                frozenset({"s9"}),
            ),
        )
    )
    assert outcomes(rules, facts(100)) == ["review"]
    assert outcomes(rules, facts(100, card="fp_bad")) == ["decline"]
    assert outcomes(rules, facts(5, buyer="b9")) == ["decline"]
    assert outcomes(rules, facts(5, seller="s9")) == ["decline"]


def test_a_declined_order_does_not_count_for_the_next() -> None:
    rules = RiskRules(
        (
            BlocklistRule("blocked", Outcome.DECLINE, sellers=frozenset({"s9"})),
            VelocityRule("card", Outcome.DECLINE, KeyKind.CARD, 60, max_count=1),
        )
    )
    checkout = CheckoutFacts("fp", None, None, (OrderFacts("a", "s9", 1), OrderFacts("b", "s1", 1)))
    assert outcomes(rules, checkout) == ["decline", "allow"]


def test_new_seller_limits_by_orders_and_by_days() -> None:
    by_orders = RiskRules((NewSellerRule("new", Outcome.REVIEW, 500, first_orders=2),))
    young = Window((), 1, NOW - timedelta(days=30))
    seasoned = Window((), 2, NOW - timedelta(days=30))
    assert outcomes(by_orders, facts(501), {(KeyKind.SELLER, "s1"): young}) == ["review"]
    assert outcomes(by_orders, facts(500), {(KeyKind.SELLER, "s1"): young}) == ["allow"]
    assert outcomes(by_orders, facts(501), {(KeyKind.SELLER, "s1"): seasoned}) == ["allow"]
    by_days = RiskRules((NewSellerRule("new", Outcome.DECLINE, 500, first_days=7),))
    assert outcomes(by_days, facts(501)) == ["decline"]  # never sold: new
    assert outcomes(by_days, facts(501), {(KeyKind.SELLER, "s1"): seasoned}) == ["allow"]


# --- the counter and the order's risk events ------------------------------------------------


def test_a_counter_keeps_its_horizon_and_its_history() -> None:
    counter = RiskCounter(kind="card_fingerprint", key="fp")
    counter.count("po_1", 100, NOW - timedelta(seconds=120), horizon_s=60)
    counter.count("po_2", 200, NOW, horizon_s=60)
    assert counter.window == Window(((NOW, 200),), 2, NOW - timedelta(seconds=120))
    copy = None
    for stored in counter.collect_events():
        copy = stored.mutate(copy)
    assert isinstance(copy, RiskCounter)
    assert copy.window == counter.window


def test_an_order_in_review_is_never_started_until_approved() -> None:
    order = new_order("po_1", amount=100, funds_held=True)
    order.assess_risk("review", "big", {"amount": 100}, "order amount above the limit")
    assert not order.needs_executor
    with pytest.raises(IllegalTransition):
        order.start_execution()
    order.review_risk(True, "known customer", "key_1")
    assert order.needs_executor
    order.start_execution()
    assert order.status is Status.EXECUTING
    with pytest.raises(IllegalTransition):
        order.review_risk(False, "too late", "key_1")


def test_declined_by_rule_or_in_review_fails_with_blocked_by_risk() -> None:
    order = new_order("po_1", amount=100, funds_held=True)
    order.assess_risk("decline", "card", {"count": 4}, "too many")
    assert (order.status, order.failure_code) == (Status.FAILED, FailureCode.BLOCKED_BY_RISK)
    assert not order.needs_executor
    reviewed = new_order("po_1", amount=100, funds_held=True)
    reviewed.assess_risk("review", "big", {}, "big")
    reviewed.review_risk(False, "stolen card", "key_2")
    assert (reviewed.status, reviewed.failure_code) == (Status.FAILED, FailureCode.BLOCKED_BY_RISK)
    assert reviewed.failure_reason is not None
    assert "stolen card" in reviewed.failure_reason


def test_payments_serve_stops_on_a_bad_rules_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from payments.cli.main import main

    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nname = "v"\nkind = "velocity"\naction = "decline"\nkey = "card"\n')
    result = CliRunner().invoke(main, ["serve"], env={"PAYMENTS_RISK_RULES": str(path)})
    assert result.exit_code == 1
    assert "Error: configuration: PAYMENTS_RISK_RULES=" in result.output
    assert "rule[0] 'v': key:" in result.output
