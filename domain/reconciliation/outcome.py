"""What a classification produces: the rules it applied, chunks, batches, findings.

The helpers here build findings about a line (with our order or payout when we know it) the
same way for every rule of the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from payments.domain.reconciliation.accounts import PSP_BALANCE
from payments.domain.reconciliation.expected import MovementFacts, OrderFacts, PayoutFacts
from payments.domain.reconciliation.findings import BATCH_MISMATCH, INFO, OPEN, Finding
from payments.domain.reconciliation.lines import PspLine
from payments.domain.reconciliation.memory import Booking, unpack


@dataclass(frozen=True, slots=True)
class Rules:
    """How a deployment judges its files. `as_of` decides what is late (no clock here)."""

    currency: str
    as_of: datetime
    window_days: int = 3
    tolerance_minor: int = 0  # |PSP - ours| up to this matches; the difference is written off
    chunk_lines: int = 10_000

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)


@dataclass
class Chunk:
    """Per chunk of lines: matched counts and amounts, bookings, lines already reconciled.

    Bookings are packed rows (memory.py) while the chunk fills, one string once it is closed:
    a million booked lines cost a few bytes each, not an object each."""

    index: int
    first_line: int
    last_line: int
    matched: int = 0
    gross_minor: int = 0
    net_minor: int = 0
    already_reconciled: int = 0
    rows: list[str] = field(default_factory=list)
    packed: str = ""

    def close(self) -> None:
        if self.rows:
            self.packed = "\n".join(filter(None, (self.packed, *self.rows)))
            self.rows.clear()

    def booked(self) -> list[Booking]:
        self.close()
        return list(unpack(self.packed))


@dataclass
class Batch:
    """A payout batch of the file in our currency: its lines' net and its closing line."""

    lines: int = 0
    net_minor: int = 0
    payout_minor: int | None = None
    payout_line: int | None = None
    payout_type: str = ""


@dataclass(frozen=True)
class Classification:
    """Everything a run records about one file."""

    findings: list[Finding]
    chunks: list[Chunk]
    batches: dict[str, Batch]
    lines: int
    period_start: str  # ISO dates of the file's lines ("" for an empty file)
    period_end: str
    through_position: int


def nonzero(moves: dict[str, int] | None) -> dict[str, int] | None:
    if moves is None:
        return None
    kept = {account: amount for account, amount in moves.items() if amount}
    return kept or None


def line_finding(
    line: PspLine,
    identity: str,
    kind: str,
    state: str,
    detail: str,
    moves: dict[str, int] | None = None,
) -> Finding:
    """A finding on one line of the file, with its raw text when it is an exception."""
    return Finding(
        finding_id=f"line-{line.line}",
        kind=kind,
        state=state,
        line=line.line,
        psp_reference=line.psp_reference or None,
        batch_number=line.batch,
        psp_type=line.record_type,
        psp_minor=line.gross_or_net_plus_fee,
        psp_currency=line.currency,
        detail=detail,
        line_identity=identity,
        since=line.booked_at.astimezone(UTC).isoformat(),
        adjustment=nonzero(moves),
        raw=line.raw if state != INFO else None,
    )


def about_order(finding: Finding, order: OrderFacts | None, expected_minor: int | None) -> Finding:
    if order is None:
        return finding
    return with_fields(
        finding,
        payment_order_id=order.payment_order_id,
        our_status=order.status_label,
        expected_minor=order.amount_minor if expected_minor is None else expected_minor,
        expected_currency=order.currency,
    )


def about_payout(finding: Finding, payout: PayoutFacts, expected_minor: int | None) -> Finding:
    return with_fields(
        finding,
        payout_id=payout.payout_id,
        our_status=payout.status_label,
        expected_minor=expected_minor,
        expected_currency=payout.currency,
    )


def about_movement(
    finding: Finding, movement: MovementFacts, expected_minor: int | None
) -> Finding:
    return with_fields(
        finding,
        payment_order_id=movement.payment_order_id or None,
        movement=movement.movement_id,
        our_status=movement.status_label,
        expected_minor=movement.signed_minor if expected_minor is None else expected_minor,
        expected_currency=movement.currency,
    )


def with_fields(finding: Finding, **changes: object) -> Finding:
    data = finding.as_dict()
    data.update(changes)
    return Finding.from_dict(data)


def batch_findings(batches: dict[str, Batch], currency: str) -> list[Finding]:
    """One-to-many: a batch's closing payout line must equal the net of its lines. A batch the
    file does not close (the PSP carried the balance forward) is not judged."""
    found: list[Finding] = []
    for key, batch in sorted(batches.items()):
        if batch.payout_minor is None or batch.payout_minor == batch.net_minor:
            continue
        residual = batch.net_minor - batch.payout_minor  # left on psp_balance by the batch
        found.append(
            Finding(
                finding_id=f"batch-{key}",
                kind=BATCH_MISMATCH,
                state=OPEN,
                line=batch.payout_line,
                batch_number=key,
                psp_type=batch.payout_type,
                expected_minor=batch.net_minor,
                psp_minor=batch.payout_minor,
                expected_currency=currency,
                psp_currency=currency,
                detail=f"batch lines net {batch.net_minor}, its payout line says "
                f"{batch.payout_minor}",
                adjustment={PSP_BALANCE: -residual},
            )
        )
    return found
