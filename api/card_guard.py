"""Refuse raw card data before anything parses, stores or logs it (PCI scope stays at the PSP).

The whole decoded body is searched: every value and every key, at any depth. A card
number is 13-19 digits, alone or grouped by spaces, dashes or dots, that a card network
could have issued and that passes Luhn (`psp.cards.card_numbers_in`); a CVC is any key
named like one (`cvc`, `cvv`, `cvv2`, `csc`, `security_code`, in any case or spelling).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from litestar import Request

from payments.api.idempotency import idempotency_key_guard
from payments.api.problems import FieldProblem, ProblemError
from payments.psp.cards import contains_card_number

# Compared after lower-casing and dropping everything but letters and digits, so that
# "CVV2", "security-code" and "cardSecurityCode" match too; "cvc_check" (a PSP's verdict
# on a CVC, not one) does not.
_CVC_NAMES = frozenset(
    {
        "cvc",
        "cvc2",
        "cvv",
        "cvv2",
        "csc",
        "cvn",
        "securitycode",
        "cardverificationcode",
        "cardverificationvalue",
    }
)
_CVC_PREFIXES = ("", "card", "cc", "creditcard")
CVC_KEYS = frozenset(prefix + name for prefix in _CVC_PREFIXES for name in _CVC_NAMES)
# In credit_card_info, which holds a token, a field named like a card number is refused
# whatever its value, and so is Amex's "cid".
_CARD_ONLY_KEYS = frozenset({"pan", "number", "cardnumber", "ccnumber", "accountnumber", "cid"})
CARD_SECTION = "credit_card_info"
_NOT_ALPHANUMERIC = re.compile(r"[^0-9a-z]")
_HINT = (
    "Never send card numbers or CVCs to this API: tokenise the card at the PSP "
    "(POST /v1/tokens or its hosted card page) and send credit_card_info.token instead."
)


def refuse_card_data(body: Any) -> None:
    """Raise a 422 problem when the decoded body carries a card number or CVC anywhere."""
    found: list[FieldProblem] = []
    _scan(body, "", in_card_section=False, found=found)
    if found:
        raise ProblemError(
            422, "card-data-refused", "Raw card data is not accepted", _HINT, errors=found
        )


async def guard_keyed_body(request: Request[Any, Any, Any]) -> None:
    """`before_request` of a creating POST: a key first (400 without one), then the body
    decoded, where no card number or CVC passes (422; api/edge.py's request class)."""
    await idempotency_key_guard(request)
    await request.json()


def _normalised(key: str) -> str:
    if len(key) <= _CACHED_KEY_LENGTH:  # the same few keys come in every body
        return _normalised_name(key)
    return _normalised_name.__wrapped__(key)  # not cached


# Keys up to this long are normalised once; the cache then holds at most ~64 KiB of them,
# whatever keys a caller invents.
_CACHED_KEY_LENGTH = 64


@functools.lru_cache(maxsize=1024)
def _normalised_name(key: str) -> str:
    return _NOT_ALPHANUMERIC.sub("", key.lower())


def _scan(value: Any, path: str, *, in_card_section: bool, found: list[FieldProblem]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            text = str(key)
            key_is_card_number = contains_card_number(text)
            # A key that is itself a card number must not be echoed in the field path.
            name = "[redacted]" if key_is_card_number else text
            child = f"{path}.{name}" if path else name
            normalised = _normalised(text)
            if normalised in CVC_KEYS:
                found.append(FieldProblem(field=child, message="a CVC must never be sent"))
            elif key_is_card_number or (in_card_section and normalised in _CARD_ONLY_KEYS):
                found.append(FieldProblem(field=child, message="a card number must never be sent"))
            elif isinstance(item, dict | list):
                section = in_card_section or (path == "" and text == CARD_SECTION)
                _scan(item, child, in_card_section=section, found=found)
            elif _shows_card_number(item):  # a value: checked here, not by another call
                found.append(FieldProblem(field=child, message="looks like a card number"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _scan(item, f"{path or 'body'}[{index}]", in_card_section=in_card_section, found=found)
    elif _shows_card_number(value):
        found.append(FieldProblem(field=path or "body", message="looks like a card number"))


def _shows_card_number(value: Any) -> bool:
    """Whether a JSON scalar (not an object or array) shows a card number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    shown = _text_of(value)
    return shown is not None and contains_card_number(shown)


def _text_of(value: str | int | float) -> str | None:
    """The digits a JSON value shows; a float only when it is a whole number."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    return str(value)
