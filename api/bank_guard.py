"""Refuse raw bank account details in a seller's body: the payout destination is a bank
token from the PSP (`POST /v1/bank_tokens`), never an IBAN or account number (#17).

Like api/card_guard.py, the whole decoded body is searched, every key and value at any
depth: a value that holds an IBAN (ISO 13616 shape and mod-97 check digits, grouped by
spaces or not, alone or inside other text),
a value of 6-17 digits and nothing else (an account number; a phone number is written
+<digits>; `id_number`, which KYC needs, is excepted),
or a key named like bank details (`iban`, `account_number`, `routing_number`, ...).
"""

from __future__ import annotations

import re
from typing import Any

from payments.api.problems import FieldProblem, ProblemError

_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_IBAN_CANDIDATE = re.compile(r"[A-Z]{2}[0-9]{2}(?:[ .-]?[A-Z0-9]){11,40}")
_ACCOUNT_NUMBER = re.compile(r"^[0-9]{6,17}$")
_SEPARATORS = re.compile(r"[\s.-]")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9a-z]")
_BANK_KEYS = frozenset(
    {"iban", "accountnumber", "bankaccount", "bankaccountnumber", "routingnumber", "sortcode"}
)
EXEMPT_KEYS = frozenset({"id_number"})  # the KYC id number: sent to the PSP, never stored
_HINT = (
    "Never send bank account numbers to this API: tokenise them at the PSP "
    "(POST /v1/bank_tokens) and send the bank_token instead."
)


def is_iban(text: str) -> bool:
    """Whether the text is an IBAN: shape, then mod 97 of the rearranged digits is 1."""
    compact = _SEPARATORS.sub("", text).upper()
    if _IBAN_SHAPE.match(compact) is None:
        return False
    digits = "".join(str(int(char, 36)) for char in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def contains_iban(text: str) -> bool:
    """Whether an IBAN hides anywhere in the text, grouped by spaces or not: each candidate
    run is tried at every length an IBAN may have."""
    for found in _IBAN_CANDIDATE.finditer(text.upper()):
        compact = _SEPARATORS.sub("", found.group())
        if any(is_iban(compact[:length]) for length in range(15, min(len(compact), 34) + 1)):
            return True
    return False


def refuse_bank_details(body: Any) -> None:
    """Raise a 422 problem when the decoded body carries an IBAN or account number."""
    found: list[FieldProblem] = []
    _scan(body, "", found)
    if found:
        raise ProblemError(
            422, "bank-details-refused", "Raw bank details are not accepted", _HINT, errors=found
        )


def _scan(value: Any, path: str, found: list[FieldProblem]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            text = str(key)
            secret = contains_iban(text) or _ACCOUNT_NUMBER.match(text) is not None
            child = f"{path}.{'[redacted]' if secret else text}" if path else text
            if secret or _NOT_ALPHANUMERIC.sub("", text.lower()) in _BANK_KEYS:
                found.append(FieldProblem(field=child, message="bank details must never be sent"))
            elif text not in EXEMPT_KEYS:
                _scan(item, child, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _scan(item, f"{path or 'body'}[{index}]", found)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)
        if contains_iban(text):
            found.append(FieldProblem(field=path or "body", message="looks like an IBAN"))
        elif _ACCOUNT_NUMBER.match(text) is not None:
            message = "looks like a bank account number"
            found.append(FieldProblem(field=path or "body", message=message))
