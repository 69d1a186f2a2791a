"""The risk rules file named by PAYMENTS_RISK_RULES (docs/risk.md): TOML, one [[rule]] table
per rule, read with tomllib and validated into msgspec structs, then into the domain's rules
(domain/risk_rules.py). Every error names the rule and the field; a bad file stops start-up."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from payments.domain.money import Money, MoneyError
from payments.domain.risk_rules import (
    AmountRule,
    BlocklistRule,
    KeyKind,
    NewSellerRule,
    Outcome,
    RiskRules,
    Rule,
    VelocityRule,
)

Name = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Positive = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]
Entry = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Entries = Annotated[list[Entry], msgspec.Meta(max_length=100_000)]


class RuleSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    kind: Literal["amount", "velocity", "blocklist", "new_seller"]
    action: Literal["review", "decline"]
    max_order_amount: str | None = None  # amount, new_seller
    max_checkout_amount: str | None = None  # amount
    key: Literal["card_fingerprint", "buyer", "seller"] | None = None  # velocity
    max_count: Positive | None = None  # velocity
    max_amount: str | None = None  # velocity
    window_s: Annotated[int, msgspec.Meta(ge=1, le=366 * 86400)] | None = None  # velocity
    card_fingerprints: Entries | None = None  # blocklist
    buyers: Entries | None = None  # blocklist
    sellers: Entries | None = None  # blocklist
    first_orders: Positive | None = None  # new_seller
    first_days: Annotated[int, msgspec.Meta(ge=1, le=3660)] | None = None  # new_seller


class RulesFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rule: list[RuleSpec] = []


# Which optional fields each kind takes, and which of them it needs (any one of a group).
FIELDS: dict[str, tuple[set[str], list[tuple[str, ...]]]] = {
    "amount": (
        {"max_order_amount", "max_checkout_amount"},
        [("max_order_amount", "max_checkout_amount")],
    ),
    "velocity": (
        {"key", "max_count", "max_amount", "window_s"},
        [("key",), ("window_s",), ("max_count", "max_amount")],
    ),
    "blocklist": (
        {"card_fingerprints", "buyers", "sellers"},
        [("card_fingerprints", "buyers", "sellers")],
    ),
    "new_seller": (
        {"max_order_amount", "first_orders", "first_days"},
        [("max_order_amount",), ("first_orders", "first_days")],
    ),
}
OPTIONAL = set(RuleSpec.__struct_fields__) - {"name", "kind", "action"}
_PATH = re.compile(r"\$\.rule\[(\d+)\](?:\.(\w+))?")


class RiskRulesError(ValueError):
    """The rules file cannot be used; the message names the rule and the field."""


def load_risk_rules(path: Path, currency: str) -> RiskRules:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RiskRulesError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise RiskRulesError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise RiskRulesError(f"{path} is not valid TOML: {error}") from None
    return parse_risk_rules(raw, currency)


def parse_risk_rules(raw: dict[str, Any], currency: str) -> RiskRules:
    try:
        spec = msgspec.convert(raw, RulesFile)
    except msgspec.ValidationError as error:
        raise RiskRulesError(_located(str(error), raw)) from None
    names: set[str] = set()
    rules: list[Rule] = []
    for index, rule in enumerate(spec.rule):
        where = f"rule[{index}] {rule.name!r}"
        if rule.name in names:
            raise RiskRulesError(f"{where}: name: another rule has this name")
        names.add(rule.name)
        rules.append(_rule(rule, where, currency))
    return RiskRules(tuple(rules))


def _located(message: str, raw: dict[str, Any]) -> str:
    """msgspec's message with its `$.rule[i].field` path said as the rule's name and field."""
    match = _PATH.search(message)
    if match is None:
        at = re.search(r"\s*-\s*at\s*`\$\.?([^`]*)`", message)
        if at is None:
            return message
        return f"{at.group(1) or 'the file'}: {message[: at.start()]}"
    index, field = int(match.group(1)), match.group(2)
    rules = raw.get("rule")
    name = rules[index].get("name") if isinstance(rules, list) and index < len(rules) else None
    label = f"rule[{index}]" + (f" {name!r}" if isinstance(name, str) else "")
    text = re.sub(r"\s*-\s*at\s*`?$", "", message[: match.start()]).replace(" | null", "")
    return f"{label}: {field}: {text}" if field else f"{label}: {text}"


def _rule(rule: RuleSpec, where: str, currency: str) -> Rule:
    allowed, needed = FIELDS[rule.kind]
    given = {name for name in OPTIONAL if getattr(rule, name) is not None}
    extra = sorted(given - allowed)
    if extra:
        raise RiskRulesError(f"{where}: {extra[0]}: not a field of a {rule.kind} rule")
    for group in needed:
        if not given & set(group):
            raise RiskRulesError(f"{where}: {' or '.join(group)}: required for a {rule.kind} rule")

    def amount(name: str) -> int | None:
        text = getattr(rule, name)
        if text is None:
            return None
        try:
            minor = Money.parse(text, currency).minor
        except MoneyError as error:
            raise RiskRulesError(f"{where}: {name}: {error}") from None
        if minor <= 0:
            raise RiskRulesError(f"{where}: {name}: must be greater than zero")
        return minor

    action = Outcome(rule.action)
    if rule.kind == "amount":
        return AmountRule(
            rule.name, action, amount("max_order_amount"), amount("max_checkout_amount")
        )
    if rule.kind == "velocity":
        assert rule.key is not None
        assert rule.window_s is not None
        return VelocityRule(
            rule.name,
            action,
            KeyKind(rule.key),
            rule.window_s,
            rule.max_count,
            amount("max_amount"),
        )
    if rule.kind == "blocklist":
        return BlocklistRule(
            rule.name,
            action,
            frozenset(rule.card_fingerprints or ()),
            frozenset(rule.buyers or ()),
            frozenset(rule.sellers or ()),
        )
    max_order = amount("max_order_amount")
    assert max_order is not None
    return NewSellerRule(rule.name, action, max_order, rule.first_orders, rule.first_days)
