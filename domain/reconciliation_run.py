"""ReconciliationRun: one PSP settlement file checked against our own event history.

Its events are the findings (DESIGN §8). Matched lines are counted per chunk, the lines it
booked are remembered per chunk (so no later file books them again), every other line or
order is one finding with its line number, references and amounts. Safe differences are fixed
once the PSP confirms them; exceptions wait for a person, whose decision is recorded once and
posts its adjustment. The rules that produce all this live in domain/reconciliation/.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain.errors import IllegalTransition, NotFound
from payments.domain.ids import reconciliation_run_uuid
from payments.domain.reconciliation.accounts import PSP_BALANCE, PSP_FEES
from payments.domain.reconciliation.findings import (
    AMOUNT_MISMATCH,
    AUTO_FIX,
    AUTO_FIXED,
    AWAITING_SETTLEMENT,
    INFO,
    KINDS,
    OPEN,
    RESOLVED,
    STATUS_MISMATCH,
    Finding,
    finding_state,
)
from payments.domain.reconciliation.memory import CAPTURE, Booking, pack
from payments.domain.reconciliation.records import (
    AutoFix,
    BookedFees,
    MatchedChunk,
    Resolution,
    SettledChunk,
)
from payments.domain.reconciliation.resolutions import check_resolution, resolution_entries

# The states, and the kinds older callers import from here (the rest: reconciliation.findings).
__all__ = [
    "AMOUNT_MISMATCH",
    "AUTO_FIX",
    "AUTO_FIXED",
    "AWAITING_SETTLEMENT",
    "INFO",
    "OPEN",
    "RESOLVED",
    "STATUS_MISMATCH",
    "Finding",
    "ReconciliationRun",
    "reconciliation_run_uuid",
]


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

    class FileRead(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.FileRead.v1"
        ignored_columns: list[str]
        tolerance_minor: int

    class ChunkMatched(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.ChunkMatched.v1"
        chunk: int
        first_line: int
        last_line: int
        matched: int
        gross_minor: int
        net_minor: int

    class LinesSettled(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.LinesSettled.v1"
        chunk: int
        currency: str
        bookings: str
        already_reconciled: int

    class FindingsRecorded(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.FindingsRecorded.v1"
        findings: list[dict[str, Any]]

    class FeesBooked(Aggregate.Event):  # runs recorded before per-line booking (v0.2)
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

    class AutoFixApplied(Aggregate.Event):  # v0.2: applied without asking the PSP
        TOPIC = "payments.ReconciliationRun.AutoFixApplied.v1"
        finding_id: str
        payment_order_id: str
        psp_reference: str
        outcome: str

    class AutoFixConfirmed(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.AutoFixConfirmed.v1"
        finding_id: str
        payment_order_id: str
        psp_reference: str
        psp_amount_minor: int
        currency: str
        outcome: str
        bookings: str

    class AutoFixNotConfirmed(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.AutoFixNotConfirmed.v1"
        finding_id: str
        reason: str

    class ExceptionResolvedV1(Aggregate.Event):  # v0.2: a label, posted nothing
        TOPIC = "payments.ReconciliationRun.ExceptionResolved.v1"
        finding_id: str
        action: str
        reason: str

    class ExceptionResolved(Aggregate.Event):
        TOPIC = "payments.ReconciliationRun.ExceptionResolved.v2"
        finding_id: str
        action: str
        reason: str
        resolved_by: str
        currency: str
        entries: dict[str, int]

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
        self.ignored_columns: list[str] = []
        self.tolerance_minor = 0
        self.chunks: list[MatchedChunk] = []
        self.settled: list[SettledChunk] = []
        self.findings: dict[str, Finding] = {}
        self.fees: list[BookedFees] = []
        self.auto_fixes: dict[str, AutoFix] = {}
        self.not_confirmed: dict[str, str] = {}
        self.resolutions: dict[str, Resolution] = {}
        self.completed = False
        self.lines = 0
        self.batches: list[dict[str, Any]] = []

    # --- commands: recording a file's results ------------------------------------------

    def note_file(self, ignored_columns: list[str], tolerance_minor: int) -> None:
        self._require_open()
        self._file_read(ignored_columns=ignored_columns, tolerance_minor=tolerance_minor)

    def record_chunk(
        self, chunk: int, first_line: int, last_line: int, matched: int, gross: int, net: int
    ) -> None:
        self._require_open()
        self._chunk_matched(
            chunk=chunk, first_line=first_line, last_line=last_line, matched=matched,
            gross_minor=gross, net_minor=net,
        )  # fmt: skip

    def record_settled(self, chunk: int, bookings: str, already_reconciled: int) -> None:
        """A chunk's booked lines, packed (reconciliation/memory.py), and its count of lines
        an earlier run reconciled."""
        self._require_open()
        if bookings or already_reconciled:
            self._lines_settled(
                chunk=chunk,
                currency=self.currency,
                bookings=bookings,
                already_reconciled=already_reconciled,
            )

    def record_findings(self, findings: list[Finding]) -> None:
        self._require_open()
        for finding in findings:
            if finding.kind not in KINDS or finding.finding_id in self.findings:
                raise IllegalTransition(finding.finding_id, f"record as {finding.kind}")
        if findings:
            self._findings_recorded(findings=[f.as_dict() for f in findings])

    def complete(self, lines: int, batches: list[dict[str, Any]]) -> None:
        self._require_open()
        self._completed(lines=lines, batches=batches)

    # --- commands: auto-fixes and resolutions --------------------------------------------

    def pending_auto_fixes(self) -> list[Finding]:
        return [f for f in self.findings.values() if self.state_of(f.finding_id) == AUTO_FIX]

    def confirm_auto_fix(
        self, finding_id: str, psp_reference: str, psp_amount_minor: int, outcome: str
    ) -> None:
        """The PSP confirmed the line (same reference and amount) and the order took it: the
        line is booked as a settled capture."""
        finding = self._auto_fix_candidate(finding_id)
        assert finding.payment_order_id is not None
        assert finding.line is not None
        moves = finding.adjustment or {}
        net, fee = moves.get(PSP_BALANCE, 0), moves.get(PSP_FEES, 0)
        write_off = (finding.expected_minor or 0) - (net + fee)
        booking = Booking(
            finding.line, CAPTURE, finding.line_identity or "", finding.payment_order_id,
            net, fee, write_off,
        )  # fmt: skip
        self._auto_fix_confirmed(
            finding_id=finding_id,
            payment_order_id=finding.payment_order_id,
            psp_reference=psp_reference,
            psp_amount_minor=psp_amount_minor,
            currency=self.currency,
            outcome=outcome,
            bookings=pack([booking]),
        )

    def decline_auto_fix(self, finding_id: str, reason: str) -> None:
        """Not confirmed by the PSP (or no PSP to ask): the finding waits for a person."""
        self._auto_fix_candidate(finding_id)
        self._auto_fix_not_confirmed(finding_id=finding_id, reason=reason)

    def resolve(self, finding_id: str, action: str, reason: str, resolved_by: str = "") -> None:
        """A person's decision on an open exception, posting its adjustment; once only."""
        check_resolution(action, reason, resolved_by or "unnamed")
        if self.state_of(finding_id) != OPEN:
            raise IllegalTransition(self.state_of(finding_id), "resolve")
        entries = resolution_entries(self.findings[finding_id], action)
        self._exception_resolved(
            finding_id=finding_id,
            action=action,
            reason=reason,
            resolved_by=resolved_by or "unnamed",
            currency=self.currency,
            entries=entries,
        )

    # --- reads -------------------------------------------------------------------------

    def state_of(self, finding_id: str) -> str:
        return finding_state(
            self._finding(finding_id).state,
            resolved=finding_id in self.resolutions,
            auto_fixed=finding_id in self.auto_fixes,
            not_confirmed=finding_id in self.not_confirmed,
        )

    def _finding(self, finding_id: str) -> Finding:
        finding = self.findings.get(finding_id)
        if finding is None:
            raise NotFound(f"finding {finding_id!r} not found in this run")
        return finding

    def _auto_fix_candidate(self, finding_id: str) -> Finding:
        finding = self._finding(finding_id)
        if self.state_of(finding_id) != AUTO_FIX:
            raise IllegalTransition(self.state_of(finding_id), "auto-fix")
        return finding

    def _require_open(self) -> None:
        if self.completed:
            raise IllegalTransition("completed", "add results")

    # --- events: assign only -----------------------------------------------------------

    @event(FileRead)
    def _file_read(self, ignored_columns: list[str], tolerance_minor: int) -> None:
        self.ignored_columns = list(ignored_columns)
        self.tolerance_minor = tolerance_minor

    @event(ChunkMatched)
    def _chunk_matched(
        self, chunk: int, first_line: int, last_line: int, matched: int, gross_minor: int,
        net_minor: int,
    ) -> None:  # fmt: skip
        self.chunks.append(
            MatchedChunk(chunk, first_line, last_line, matched, gross_minor, net_minor)
        )

    @event(LinesSettled)
    def _lines_settled(
        self, chunk: int, currency: str, bookings: str, already_reconciled: int
    ) -> None:
        self.settled.append(SettledChunk(chunk, bookings, already_reconciled))

    @event(FindingsRecorded)
    def _findings_recorded(self, findings: list[dict[str, Any]]) -> None:
        for data in findings:
            finding = Finding.from_dict(data)
            self.findings[finding.finding_id] = finding

    @event(FeesBooked)  # replayed only: new runs book fee lines one by one (LinesSettled)
    def _fees_booked(
        self, batch_number: int, commission_minor: int, markup_minor: int,
        scheme_fees_minor: int, interchange_minor: int, other_fees_minor: int, total_minor: int,
    ) -> None:  # fmt: skip
        self.fees.append(
            BookedFees(
                batch_number, commission_minor, markup_minor, scheme_fees_minor,
                interchange_minor, other_fees_minor, total_minor,
            )
        )  # fmt: skip

    @event(Completed)
    def _completed(self, lines: int, batches: list[dict[str, Any]]) -> None:
        self.completed = True
        self.lines = lines
        self.batches = batches

    @event(AutoFixApplied)
    def _auto_fix_applied(
        self, finding_id: str, payment_order_id: str, psp_reference: str, outcome: str
    ) -> None:
        self.auto_fixes[finding_id] = AutoFix(payment_order_id, psp_reference, outcome)

    @event(AutoFixConfirmed)
    def _auto_fix_confirmed(
        self, finding_id: str, payment_order_id: str, psp_reference: str,
        psp_amount_minor: int, currency: str, outcome: str, bookings: str,
    ) -> None:  # fmt: skip
        self.auto_fixes[finding_id] = AutoFix(
            payment_order_id, psp_reference, outcome, psp_amount_minor
        )

    @event(AutoFixNotConfirmed)
    def _auto_fix_not_confirmed(self, finding_id: str, reason: str) -> None:
        self.not_confirmed[finding_id] = reason

    @event(ExceptionResolvedV1)
    def _exception_resolved_v1(self, finding_id: str, action: str, reason: str) -> None:
        self.resolutions[finding_id] = Resolution(action, reason)

    @event(ExceptionResolved)
    def _exception_resolved(
        self, finding_id: str, action: str, reason: str, resolved_by: str, currency: str,
        entries: dict[str, int],
    ) -> None:  # fmt: skip
        self.resolutions[finding_id] = Resolution(action, reason, resolved_by, dict(entries))
