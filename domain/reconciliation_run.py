"""ReconciliationRun: one PSP settlement file checked against our own event history.

Its events are the findings (DESIGN §8). Matched lines are counted per chunk, every other
line or order is one finding with its line number, references and amounts. Safe differences
are fixed automatically and say so; exceptions wait for an operator, whose decision is
recorded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from payments.domain.errors import FieldError, IllegalTransition, InvalidCommand, NotFound
from payments.domain.ids import PAYMENTS_NAMESPACE

# Finding kinds. Exceptions wait in the manual queue; the rest only inform.
AWAITING_SETTLEMENT = "awaiting_settlement"
MISSING_AT_PSP = "missing_at_psp"
MISSING_INTERNALLY = "missing_internally"
AMOUNT_MISMATCH = "amount_mismatch"
CURRENCY_MISMATCH = "currency_mismatch"
STATUS_MISMATCH = "status_mismatch"
DUPLICATE = "duplicate"
BATCH_MISMATCH = "batch_mismatch"
SETTLED_OUTSIDE_PERIOD = "settled_outside_period"  # matched; recorded so no later run expects it
CLEARED = "cleared"  # an earlier run's awaiting order, settled in this file
PAYOUT_TRANSFER = "payout_transfer"  # Balancetransfer lines, listed only (runs before payouts)
KINDS = (
    AWAITING_SETTLEMENT,
    MISSING_AT_PSP,
    MISSING_INTERNALLY,
    AMOUNT_MISMATCH,
    CURRENCY_MISMATCH,
    STATUS_MISMATCH,
    DUPLICATE,
    BATCH_MISMATCH,
    SETTLED_OUTSIDE_PERIOD,
    CLEARED,
    PAYOUT_TRANSFER,
)

# Finding states.
OPEN = "open"  # an exception in the manual queue
AUTO_FIX = "auto_fix"  # safe: the run applies the PSP's outcome itself
AUTO_FIXED = "auto_fixed"
INFO = "info"  # not an exception (timing, carried-over, payout lines)
RESOLVED = "resolved"

RESOLUTION_ACTIONS = ("accept_psp", "accept_ours", "write_off", "investigated")


def reconciliation_run_uuid(file_sha256: str) -> UUID:
    """One run per settlement file: the same bytes always name the same run."""
    return uuid5(PAYMENTS_NAMESPACE, f"reconciliation_run:{file_sha256}")


@dataclass(frozen=True, slots=True)
class Finding:
    """One classified line, order or payout. Amounts in minor units, signed as the line
    carries them (credits positive, a payout's debit negative); None where a side has none."""

    finding_id: str
    kind: str
    state: str
    line: int | None = None
    payment_order_id: str | None = None
    psp_reference: str | None = None
    batch_number: int | None = None
    psp_type: str | None = None
    our_status: str | None = None
    expected_minor: int | None = None
    psp_minor: int | None = None
    expected_currency: str | None = None
    psp_currency: str | None = None
    detail: str = ""
    supersedes: str | None = None  # "<run id>/<finding id>" of an earlier awaiting finding
    payout_id: str | None = None  # a payout's findings (Balancetransfer lines) name it here

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Resolution:
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class MatchedChunk:
    chunk: int
    first_line: int
    last_line: int
    matched: int
    gross_minor: int
    net_minor: int


@dataclass(frozen=True, slots=True)
class BookedFees:
    batch_number: int
    commission_minor: int
    markup_minor: int
    scheme_fees_minor: int
    interchange_minor: int
    other_fees_minor: int
    total_minor: int


@dataclass(frozen=True, slots=True)
class AutoFix:
    payment_order_id: str
    psp_reference: str
    outcome: str  # "recorded_success", "already_success" or "refused: ..."


class ReconciliationRun(Aggregate):
    TOPIC = "payments.ReconciliationRun"

    class Created(Aggregate.Created):
        TOPIC = "payments.ReconciliationRun.Created.v1"
        file_sha256: str
        file_format: str
        currency: str
        period_start: str
        period_end: str
        as_of: datetime
        window_days: int
        through_position: int

    class ChunkMatched(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.ChunkMatched.v1"
        chunk: int
        first_line: int
        last_line: int
        matched: int
        gross_minor: int
        net_minor: int

    class FindingsRecorded(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.FindingsRecorded.v1"
        findings: list[dict[str, Any]]

    class FeesBooked(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.FeesBooked.v1"
        batch_number: int
        currency: str
        commission_minor: int
        markup_minor: int
        scheme_fees_minor: int
        interchange_minor: int
        other_fees_minor: int
        total_minor: int

    class Completed(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.Completed.v1"
        lines: int
        batches: list[dict[str, Any]]

    class AutoFixApplied(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.AutoFixApplied.v1"
        finding_id: str
        payment_order_id: str
        psp_reference: str
        outcome: str

    class ExceptionResolved(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.ExceptionResolved.v1"
        finding_id: str
        action: str
        reason: str

    @staticmethod
    def create_id(file_sha256: str) -> UUID:
        return reconciliation_run_uuid(file_sha256)

    @event(Created)
    def __init__(
        self,
        file_sha256: str,
        file_format: str,
        currency: str,
        period_start: str,
        period_end: str,
        as_of: datetime,
        window_days: int,
        through_position: int,
    ) -> None:
        self.file_sha256 = file_sha256
        self.file_format = file_format
        self.currency = currency
        self.period_start = period_start
        self.period_end = period_end
        self.as_of = as_of
        self.window_days = window_days
        self.through_position = through_position
        self.chunks: list[MatchedChunk] = []
        self.findings: dict[str, Finding] = {}
        self.fees: list[BookedFees] = []
        self.auto_fixes: dict[str, AutoFix] = {}
        self.resolutions: dict[str, Resolution] = {}
        self.completed = False
        self.lines = 0
        self.batches: list[dict[str, Any]] = []

    # --- commands ----------------------------------------------------------------------

    def record_chunk(
        self, chunk: int, first_line: int, last_line: int, matched: int, gross: int, net: int
    ) -> None:
        self._require_open()
        self._chunk_matched(
            chunk=chunk,
            first_line=first_line,
            last_line=last_line,
            matched=matched,
            gross_minor=gross,
            net_minor=net,
        )

    def record_findings(self, findings: list[Finding]) -> None:
        self._require_open()
        for finding in findings:
            if finding.kind not in KINDS or finding.finding_id in self.findings:
                raise IllegalTransition(finding.finding_id, f"record as {finding.kind}")
        if findings:
            self._findings_recorded(findings=[f.as_dict() for f in findings])

    def book_fees(
        self,
        batch_number: int,
        commission: int,
        markup: int,
        scheme_fees: int,
        interchange: int,
        other_fees: int,
    ) -> None:
        self._require_open()
        total = commission + markup + scheme_fees + interchange + other_fees
        if total <= 0 or any(batch_number == fee.batch_number for fee in self.fees):
            return
        self._fees_booked(
            batch_number=batch_number,
            currency=self.currency,
            commission_minor=commission,
            markup_minor=markup,
            scheme_fees_minor=scheme_fees,
            interchange_minor=interchange,
            other_fees_minor=other_fees,
            total_minor=total,
        )

    def complete(self, lines: int, batches: list[dict[str, Any]]) -> None:
        self._require_open()
        self._completed(lines=lines, batches=batches)

    def pending_auto_fixes(self) -> list[Finding]:
        return [
            finding
            for finding in self.findings.values()
            if finding.state == AUTO_FIX and finding.finding_id not in self.auto_fixes
        ]

    def record_auto_fix(self, finding_id: str, psp_reference: str, outcome: str) -> None:
        finding = self._finding(finding_id)
        if finding.state != AUTO_FIX or finding_id in self.auto_fixes:
            raise IllegalTransition(self.state_of(finding_id), "auto-fix")
        assert finding.payment_order_id is not None
        self._auto_fix_applied(
            finding_id=finding_id,
            payment_order_id=finding.payment_order_id,
            psp_reference=psp_reference,
            outcome=outcome,
        )

    def resolve(self, finding_id: str, action: str, reason: str) -> None:
        """An operator's decision on an exception; a second one is refused."""
        if action not in RESOLUTION_ACTIONS:
            raise InvalidCommand(
                [FieldError("action", f"must be one of {', '.join(RESOLUTION_ACTIONS)}")]
            )
        if not reason.strip():
            raise InvalidCommand([FieldError("reason", "must not be empty")])
        if self.state_of(finding_id) != OPEN:
            raise IllegalTransition(self.state_of(finding_id), "resolve")
        self._exception_resolved(finding_id=finding_id, action=action, reason=reason)

    # --- reads -------------------------------------------------------------------------

    def state_of(self, finding_id: str) -> str:
        finding = self._finding(finding_id)
        if finding_id in self.resolutions:
            return RESOLVED
        if finding_id in self.auto_fixes:
            return AUTO_FIXED
        return finding.state

    def _finding(self, finding_id: str) -> Finding:
        finding = self.findings.get(finding_id)
        if finding is None:
            raise NotFound(f"finding {finding_id!r} not found in this run")
        return finding

    def _require_open(self) -> None:
        if self.completed:
            raise IllegalTransition("completed", "add results")

    # --- events: assign only -----------------------------------------------------------

    @event(ChunkMatched)
    def _chunk_matched(
        self,
        chunk: int,
        first_line: int,
        last_line: int,
        matched: int,
        gross_minor: int,
        net_minor: int,
    ) -> None:
        self.chunks.append(
            MatchedChunk(chunk, first_line, last_line, matched, gross_minor, net_minor)
        )

    @event(FindingsRecorded)
    def _findings_recorded(self, findings: list[dict[str, Any]]) -> None:
        for data in findings:
            finding = Finding.from_dict(data)
            self.findings[finding.finding_id] = finding

    @event(FeesBooked)
    def _fees_booked(
        self,
        batch_number: int,
        currency: str,
        commission_minor: int,
        markup_minor: int,
        scheme_fees_minor: int,
        interchange_minor: int,
        other_fees_minor: int,
        total_minor: int,
    ) -> None:
        self.fees.append(
            BookedFees(
                batch_number,
                commission_minor,
                markup_minor,
                scheme_fees_minor,
                interchange_minor,
                other_fees_minor,
                total_minor,
            )
        )

    @event(Completed)
    def _completed(self, lines: int, batches: list[dict[str, Any]]) -> None:
        self.completed = True
        self.lines = lines
        self.batches = batches

    @event(AutoFixApplied)
    def _auto_fix_applied(
        self,
        finding_id: str,
        payment_order_id: str,
        psp_reference: str,
        outcome: str,
    ) -> None:
        self.auto_fixes[finding_id] = AutoFix(payment_order_id, psp_reference, outcome)

    @event(ExceptionResolved)
    def _exception_resolved(self, finding_id: str, action: str, reason: str) -> None:
        self.resolutions[finding_id] = Resolution(action, reason)
