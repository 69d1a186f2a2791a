"""The classes of findings a run records, their states, and one finding's shape.

Every line of a file, and every order or payout of ours the file should have carried and did
not, ends in exactly one class. Matched lines and booked fee and bank lines are only counted
(ChunkMatched, LinesSettled); everything else is one Finding. Exceptions wait for a person
(state `open`), safe differences are fixed once the PSP confirms them (`auto_fix`), the rest
inform (`info`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Exceptions: the manual queue.
MISSING_AT_PSP = "missing_at_psp"  # ours, not settled within the window
MISSING_INTERNALLY = "missing_internally"  # a capture or payout line with nothing of ours
AMOUNT_MISMATCH = "amount_mismatch"
CURRENCY_MISMATCH = "currency_mismatch"  # a line about something of ours, in another currency
STATUS_MISMATCH = "status_mismatch"
DUPLICATE = "duplicate"  # the same line twice in one file, or a second charge for one order
DUPLICATE_SETTLEMENT = "duplicate_settlement"  # one capture or payout settled by two lines
BATCH_MISMATCH = "batch_mismatch"  # a batch's lines do not add up to its payout line
UNMATCHED_REFUND = "unmatched_refund"  # a refund line of no refund of ours; reversals
UNMATCHED_CHARGEBACK = "unmatched_chargeback"  # a dispute's line of no dispute of ours
UNMATCHED_CORRECTION = "unmatched_correction"  # deposit corrections, invoice deductions, ...
UNKNOWN_TYPE = "unknown_type"  # a record type the reader does not know
UNREADABLE_LINE = "unreadable_line"  # a value we cannot parse, a line that does not fit
FOREIGN_CURRENCY = "foreign_currency"  # a line in a currency not ours, about nothing of ours
# Information: nothing to do.
AWAITING_SETTLEMENT = "awaiting_settlement"  # ours, not settled yet, within the window
CLEARED = "cleared"  # settles what an earlier run was awaiting
SETTLED_OUTSIDE_PERIOD = "settled_outside_period"  # matched; ours happened outside the period
ALREADY_RECONCILED = "already_reconciled"  # the same line, reconciled by an earlier run
NOT_RECONCILED = "not_reconciled"  # a documented type that moves nothing we reconcile
PAYOUT_TRANSFER = "payout_transfer"  # runs recorded before payout lines were checked

EXCEPTION_KINDS = (
    MISSING_AT_PSP,
    MISSING_INTERNALLY,
    AMOUNT_MISMATCH,
    CURRENCY_MISMATCH,
    STATUS_MISMATCH,
    DUPLICATE,
    DUPLICATE_SETTLEMENT,
    BATCH_MISMATCH,
    UNMATCHED_REFUND,
    UNMATCHED_CHARGEBACK,
    UNMATCHED_CORRECTION,
    UNKNOWN_TYPE,
    UNREADABLE_LINE,
    FOREIGN_CURRENCY,
)
INFO_KINDS = (
    AWAITING_SETTLEMENT,
    CLEARED,
    SETTLED_OUTSIDE_PERIOD,
    ALREADY_RECONCILED,
    NOT_RECONCILED,
    PAYOUT_TRANSFER,
)
KINDS = (*EXCEPTION_KINDS, *INFO_KINDS)

# States of a finding.
OPEN = "open"  # an exception in the manual queue
AUTO_FIX = "auto_fix"  # safe once the PSP confirms it: the run asks, then fixes or opens it
AUTO_FIXED = "auto_fixed"
INFO = "info"
RESOLVED = "resolved"
OPEN_STATES = (OPEN, AUTO_FIX)  # an exception still to be worked (by a person, or the PSP)


def finding_state(recorded: str, *, resolved: bool, auto_fixed: bool, not_confirmed: bool) -> str:
    """A finding's state now: the state it was recorded in, unless a person resolved it, the
    PSP confirmed its auto-fix, or the PSP did not (then it waits for a person). The one rule
    the run and the exceptions' view both apply."""
    if resolved:
        return RESOLVED
    if auto_fixed:
        return AUTO_FIXED
    if not_confirmed:
        return OPEN
    return recorded


@dataclass(frozen=True, slots=True)
class Finding:
    """One classified line, order or payout. Amounts in minor units, signed as the line
    carries them (credits positive, a payout's debit negative); None where a side has none.

    `since` is when the matter began (the line's booking time, or when ours succeeded or was
    paid) and `due` when an awaited settlement turns into an exception (ISO 8601, UTC).
    `adjustment` is what accepting the PSP's figure would post, by ledger account (debit +,
    credit -; write_offs takes the balance). `line_identity` names the PSP line across files.
    `movement` names the refund or dispute movement of ours a finding is about (then
    `payment_order_id` is its order, for reading, and the order's own capture is not meant).
    """

    finding_id: str
    kind: str
    state: str
    line: int | None = None
    payment_order_id: str | None = None
    psp_reference: str | None = None
    batch_number: int | str | None = None
    psp_type: str | None = None
    our_status: str | None = None
    expected_minor: int | None = None
    psp_minor: int | None = None
    expected_currency: str | None = None
    psp_currency: str | None = None
    detail: str = ""
    supersedes: str | None = None  # "<run id>/<finding id>" of an earlier awaiting finding
    payout_id: str | None = None
    line_identity: str | None = None
    since: str | None = None
    due: str | None = None
    adjustment: dict[str, int] | None = None
    raw: str | None = None  # the line as in the file (exceptions on a line)
    column: str | None = None  # the cell a quarantined line was refused at
    movement: str | None = None  # a refund's or dispute's movement ("refund:<id>", expected.py)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**data)

    @property
    def is_exception(self) -> bool:
        return self.kind in EXCEPTION_KINDS
