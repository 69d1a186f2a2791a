"""One settlement line as the reconciliation rules see it, whatever provider wrote it.

The readers (psp/settlement) produce richer records; psp/reconcile converts them into these.
Signs follow our account at the PSP: net_minor + is credited to it, - debited; fee_minor is a
cost (+ charged to us), so gross = net + fee where the line has both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class LineKind(StrEnum):
    """What a line means to our books (the provider's own name stays in record_type)."""

    CAPTURE = "capture"
    CAPTURE_REVERSAL = "capture_reversal"
    REFUND = "refund"
    REFUND_REVERSAL = "refund_reversal"
    CHARGEBACK = "chargeback"
    CHARGEBACK_REVERSAL = "chargeback_reversal"
    SECOND_CHARGEBACK = "second_chargeback"
    FEE = "fee"
    PAYOUT = "payout"  # money we asked the PSP to send out (a seller's payout)
    PAYOUT_RETURN = "payout_return"
    MERCHANT_PAYOUT = "merchant_payout"  # the PSP paying our settled balance to our bank
    MERCHANT_PAYOUT_RETURN = "merchant_payout_return"
    CORRECTION = "correction"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PspLine:
    """A line the reader understood. `source` names the file format; `line_reference` is the
    PSP's own id of the line where the format has one (else "")."""

    source: str
    line: int
    kind: LineKind
    record_type: str
    psp_reference: str
    merchant_reference: str
    modification_reference: str
    line_reference: str
    booked_at: datetime
    currency: str
    net_minor: int
    gross_minor: int | None
    gross_currency: str | None
    fee_minor: int
    batch: str | None
    raw: str

    @property
    def identity(self) -> str:
        return line_identity(self)

    @property
    def gross_or_net_plus_fee(self) -> int:
        """The line's gross; on a net-only line, its net plus its fees (many-to-one)."""
        return self.net_minor + self.fee_minor if self.gross_minor is None else self.gross_minor


@dataclass(frozen=True, slots=True)
class UnreadableLine:
    """A readable line the reader could not understand; `unknown_type` when only its type is
    unknown to us."""

    line: int
    raw: str
    column: str
    reason: str
    unknown_type: bool = False

    @property
    def identity(self) -> str:
        """Only its text names an unreadable line: the same text in a later file is it."""
        return hashlib.blake2b(f"raw\x1f{self.raw}".encode(), digest_size=8).hexdigest()


Line = PspLine | UnreadableLine


def line_identity(line: PspLine) -> str:
    """The same PSP line in any file has the same identity (16 hex digits).

    The PSP's own line id when the format has one; else what names the booking in the file:
    type, references, batch and time. Amounts are left out on purpose: a line sent again with
    other amounts is the same line, and is judged against what was booked for it.
    """
    if line.line_reference:
        key = f"{line.source}\x1f{line.line_reference}"
    else:
        key = (
            f"{line.source}\x1f{line.record_type.strip()}\x1f{line.psp_reference}\x1f"
            f"{line.merchant_reference}\x1f{line.modification_reference}\x1f{line.batch or ''}"
            f"\x1f{line.booked_at.timestamp():.0f}"
        )
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
