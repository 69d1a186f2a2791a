"""Resolving an exception: the actions a person may take, and what each posts (DESIGN §6, §8).

Each finding carries its `adjustment`: what accepting the PSP's figure moves, by account. The
resolution posts it through the ledger, with write_offs taking whatever does not balance (the
difference between our figure and the PSP's). Nothing moves for a decision that only records
(accept_ours: the PSP must correct its side; mark_duplicate; investigated).
"""

from __future__ import annotations

from payments.domain.errors import FieldError, InvalidCommand
from payments.domain.reasons import reason_errors
from payments.domain.reconciliation.accounts import WRITE_OFFS
from payments.domain.reconciliation.findings import (
    CURRENCY_MISMATCH,
    DUPLICATE,
    DUPLICATE_SETTLEMENT,
    FOREIGN_CURRENCY,
    UNKNOWN_TYPE,
    UNREADABLE_LINE,
    Finding,
)

ACCEPT_PSP = "accept_psp"  # the PSP's figure is right: post the adjustment, difference written off
WRITE_OFF = "write_off"  # the difference is lost: the same posting, never a seller's balance
ACCEPT_OURS = "accept_ours"  # our figure is right: the PSP corrects its side; posts nothing
MARK_DUPLICATE = "mark_duplicate"  # a duplicate line or settlement, not booked; posts nothing
INVESTIGATED = "investigated"  # looked into, nothing to post
RESOLUTION_ACTIONS = (ACCEPT_PSP, WRITE_OFF, ACCEPT_OURS, MARK_DUPLICATE, INVESTIGATED)
POSTING_ACTIONS = frozenset({ACCEPT_PSP, WRITE_OFF})
# Lines we cannot book in our ledger: nothing the PSP says about them can be posted here.
UNBOOKABLE = frozenset({UNKNOWN_TYPE, UNREADABLE_LINE, FOREIGN_CURRENCY, CURRENCY_MISMATCH})
MAX_REASON = 2000
MAX_ACTOR = 200


def check_resolution(action: str, reason: str, resolved_by: str) -> None:
    errors: list[FieldError] = []
    if action not in RESOLUTION_ACTIONS:
        errors.append(FieldError("action", f"must be one of {', '.join(RESOLUTION_ACTIONS)}"))
    errors += reason_errors(reason, MAX_REASON)
    if not resolved_by.strip():
        errors.append(FieldError("resolved_by", "must name who decides"))
    elif len(resolved_by) > MAX_ACTOR:
        errors.append(FieldError("resolved_by", f"must be at most {MAX_ACTOR} characters"))
    if errors:
        raise InvalidCommand(errors)


def resolution_entries(finding: Finding, action: str) -> dict[str, int]:
    """The balanced ledger entries (debit +, credit -) a resolution posts; {} for none (also
    for findings recorded before v0.3, which carry no adjustment: they post nothing, as then)."""
    if action == MARK_DUPLICATE and finding.kind not in (DUPLICATE, DUPLICATE_SETTLEMENT):
        raise InvalidCommand(
            [FieldError("action", f"mark_duplicate is for duplicates, not {finding.kind}")]
        )
    if action not in POSTING_ACTIONS:
        return {}
    adjustment = finding.adjustment or {}
    if not adjustment and finding.kind in UNBOOKABLE:
        raise InvalidCommand(
            [
                FieldError(
                    "action",
                    f"{action} has nothing to post for this {finding.kind}: we cannot book "
                    "it in our currency; resolve it as investigated",
                )
            ]
        )
    if action == WRITE_OFF and any(account.startswith("seller:") for account in adjustment):
        raise InvalidCommand(
            [
                FieldError(
                    "action",
                    "write_off never changes what a seller is owed: use accept_psp, or "
                    "investigated",
                )
            ]
        )
    entries = dict(adjustment)
    difference = -sum(entries.values())
    if difference:
        entries[WRITE_OFFS] = entries.get(WRITE_OFFS, 0) + difference
    return {account: amount for account, amount in sorted(entries.items()) if amount}
