"""What an operator's reason may be, stated once for the domain's checks and the API's schemas.

A reason (suspending a seller, replaying a dead letter, deciding a risk review, revoking a key,
resolving a reconciliation exception, refunding) is a line of text for people: at least one
character that is neither blank nor a control character, and no control character anywhere
(C0, DEL and C1: a reason is shown in the console, the audit log and terminal tables).

The rule is a regular expression with explicit character ranges, the same in Python's `re`
and in ECMAScript (JSON Schema's dialect), so that the OpenAPI document states exactly what the
domain refuses. Blank is Unicode's white space outside the control ranges, plus U+FEFF, which
ECMAScript's `\\s` counts and Python's `str.isspace` does not; `\\s` and `strip()` are not
used because the two languages disagree on them.
"""

from __future__ import annotations

import re

from payments.domain.errors import FieldError, InvalidCommand

CONTROL = r"\x00-\x1f\x7f-\x9f"
BLANK = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
REASON_PATTERN = f"^[^{CONTROL}]*[^{CONTROL}{BLANK}][^{CONTROL}]*$"
REASON_RULE = "no control characters, and not blank"
MAX_REASON = 500  # the usual length; refunds take 200, reconciliation resolutions 2,000
_REASON = re.compile(REASON_PATTERN)


def reason_errors(reason: str, max_length: int, field: str = "reason") -> list[FieldError]:
    """The problems of `reason` under the rule above and a length of 1 to `max_length`."""
    if len(reason) > max_length:
        return [FieldError(field, f"must be at most {max_length} characters")]
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in reason):
        return [FieldError(field, "must not contain control characters")]
    if _REASON.search(reason) is None:
        return [FieldError(field, "must not be empty or blank")]
    return []


def require_reason(reason: str, max_length: int = MAX_REASON) -> None:
    """InvalidCommand naming `reason` unless it keeps the rule (an operator's command)."""
    errors = reason_errors(reason, max_length)
    if errors:
        raise InvalidCommand(errors)
