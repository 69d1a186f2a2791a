"""What a ReconciliationRun holds once its events are applied (small frozen values)."""

from __future__ import annotations

from dataclasses import dataclass, field

from payments.domain.reconciliation.memory import Booking, unpack


@dataclass(frozen=True, slots=True)
class MatchedChunk:
    chunk: int
    first_line: int
    last_line: int
    matched: int
    gross_minor: int
    net_minor: int


@dataclass(frozen=True, slots=True)
class SettledChunk:
    """The lines of one chunk the run booked, and how many it found already reconciled."""

    chunk: int
    bookings: str  # packed (memory.py)
    already_reconciled: int

    def booked(self) -> list[Booking]:
        return list(unpack(self.bookings))


@dataclass(frozen=True, slots=True)
class BookedFees:
    """A batch's fees, booked once per batch number (runs recorded before per-line booking)."""

    batch_number: int
    commission_minor: int
    markup_minor: int
    scheme_fees_minor: int
    interchange_minor: int
    other_fees_minor: int
    total_minor: int


@dataclass(frozen=True, slots=True)
class AutoFix:
    """A safe difference fixed once the PSP confirmed it (or, before v0.3, without asking)."""

    payment_order_id: str
    psp_reference: str
    outcome: str  # "recorded_success", "already_success" (or "refused: ..." before v0.3)
    psp_amount_minor: int | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """A person's decision on an exception: who, why, and what it posted (debit +)."""

    action: str
    reason: str
    resolved_by: str = ""
    entries: dict[str, int] = field(default_factory=dict)
