"""Refuse raw card data before anything parses, stores or logs it (PCI scope stays at the PSP)."""

from __future__ import annotations

import re
from typing import Any

from payments.api.problems import FieldProblem, ProblemError
from payments.psp.cards import looks_like_pan

_CVC_KEYS = re.compile(r"^(cvc2?|cvv2?|csc|cid|security_?code|card_?verification.*)$", re.I)
_PAN_KEYS = re.compile(r"^(pan|number|card_?number|cc_?number|account_?number)$", re.I)
# In buyer_info only numbers with a card brand's prefix count, so phone numbers pass.
_BRAND_PREFIX = re.compile(r"^(4|5[1-5]|2[2-7]|3[47]|6011|65)")
_HINT = (
    "Never send card numbers or CVCs to this API: tokenise the card at the PSP "
    "(POST /v1/tokens or its hosted card page) and send credit_card_info.token instead."
)


def refuse_card_data(body: Any) -> None:
    """Raise a 422 problem when the decoded body carries a card number or CVC."""
    if not isinstance(body, dict):
        return
    found: list[FieldProblem] = []
    card = body.get("credit_card_info")
    if card is not None:
        _scan(card, "credit_card_info", strict=True, found=found)
    buyer = body.get("buyer_info")
    if buyer is not None:
        _scan(buyer, "buyer_info", strict=False, found=found)
    if found:
        raise ProblemError(
            422,
            "card-data-refused",
            "Raw card data is not accepted",
            _HINT,
            errors=found,
        )


def _scan(value: Any, path: str, *, strict: bool, found: list[FieldProblem]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}"
            if strict and _CVC_KEYS.match(str(key)):
                found.append(FieldProblem(field=child, message="a CVC must never be sent here"))
            elif strict and _PAN_KEYS.match(str(key)):
                found.append(FieldProblem(field=child, message="a card number must never be sent"))
            else:
                _scan(item, child, strict=strict, found=found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _scan(item, f"{path}[{index}]", strict=strict, found=found)
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        if _looks_like_card_number(text, strict=strict):
            found.append(FieldProblem(field=path, message="looks like a card number"))


def _looks_like_card_number(text: str, *, strict: bool) -> bool:
    if not looks_like_pan(text):
        return False
    if strict:
        return True
    digits = re.sub(r"[^0-9]", "", text)
    return bool(_BRAND_PREFIX.match(digits)) and 13 <= len(digits) <= 19
