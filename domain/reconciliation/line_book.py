"""What the classifier books and counts whatever a line is about: the chunks and batches of
the file, a line about nothing of ours (unmatched, foreign, repeated in the file, of a kind we
do not reconcile), and a fee or bank payout line booked once. classifier.py matches the lines
about ours (captures, payouts, refunds, disputes) and keeps the rule of each kind of line.
"""

from __future__ import annotations

from datetime import date

from payments.domain.reconciliation.accounts import PSP_BALANCE, PSP_FEES
from payments.domain.reconciliation.expected import Expected
from payments.domain.reconciliation.findings import (
    CURRENCY_MISMATCH,
    DUPLICATE,
    FOREIGN_CURRENCY,
    INFO,
    NOT_RECONCILED,
    OPEN,
    Finding,
)
from payments.domain.reconciliation.lines import LineKind, PspLine
from payments.domain.reconciliation.memory import row
from payments.domain.reconciliation.outcome import (
    Batch,
    Chunk,
    Rules,
    about_order,
    about_payout,
    line_finding,
)

K = LineKind


class LineBook:
    """The classifier's books: findings, chunks and batches, and the lines of no order."""

    def __init__(self, expected: Expected, rules: Rules) -> None:
        self.expected = expected
        self.rules = rules
        self.findings: list[Finding] = []
        self.chunks: list[Chunk] = []
        self.batches: dict[str, Batch] = {}
        self.first_date: date | None = None
        self.last_date: date | None = None
        self.lines = 0
        self._in_file: dict[str, int] = {}  # identities of lines not tied to ours -> line

    def _already_reconciled(self, identity: str) -> bool:
        """An earlier run reconciled this very line: counted, nothing else."""
        if identity not in self.expected.seen_lines:
            return False
        self.chunks[-1].already_reconciled += 1
        return True

    def _booked_line(self, line: PspLine, identity: str, booking: str) -> None:
        """A fee or bank payout line: booked once per line identity, whatever the file."""
        if not (self._already_reconciled(identity) or self._repeated_in_file(line, identity)):
            self.chunks[-1].rows.append(
                row(line.line, booking, identity, "", line.net_minor, line.fee_minor)
            )

    def _unmatched(
        self, line: PspLine, identity: str, kind: str, why: str = "we have no record of it"
    ) -> None:
        """A line about nothing of ours, or of a kind we do not record yet."""
        if self._already_reconciled(identity):
            return
        if self._repeated_in_file(line, identity):
            return
        detail = f"a {line.record_type.strip()} line: {why}"
        if line.merchant_reference:
            detail += f": merchant reference {line.merchant_reference!r}"
        moves = {PSP_BALANCE: line.net_minor, PSP_FEES: line.fee_minor}
        made = line_finding(line, identity, kind, OPEN, detail, moves)
        self.findings.append(
            about_order(made, self.expected.orders.get(line.merchant_reference), None)
        )

    def _other(self, line: PspLine, identity: str) -> None:
        if self._already_reconciled(identity):
            return
        detail = "a type that moves nothing we reconcile"
        self.findings.append(line_finding(line, identity, NOT_RECONCILED, INFO, detail))

    def _foreign(self, line: PspLine) -> bool:
        ours = self.rules.currency
        return line.currency != ours or line.gross_currency not in (None, ours)

    def _foreign_line(self, line: PspLine, identity: str) -> None:
        """A line in a currency not ours: about an order or payout of ours, a currency
        mismatch; about nothing of ours, a foreign-currency line. Never booked."""
        if self._already_reconciled(identity):
            return
        currency = line.gross_currency if line.currency == self.rules.currency else line.currency
        detail = f"a line in {currency}; this deployment settles {self.rules.currency}"
        payout = self.expected.payouts.get(line.merchant_reference)
        order = self.expected.orders.get(line.merchant_reference)
        if line.kind in (K.PAYOUT, K.PAYOUT_RETURN) and payout is not None:
            made = line_finding(line, identity, CURRENCY_MISMATCH, OPEN, detail)
            self.findings.append(about_payout(made, payout, None))
            return
        kind = CURRENCY_MISMATCH if order is not None else FOREIGN_CURRENCY
        made = line_finding(line, identity, kind, OPEN, detail)
        self.findings.append(about_order(made, order, None))

    def _repeated_in_file(self, line: PspLine, identity: str) -> bool:
        first = self._in_file.get(identity)
        if first is None:
            self._in_file[identity] = line.line
            return False
        moves = {PSP_BALANCE: line.net_minor, PSP_FEES: line.fee_minor}
        detail = f"the same line as line {first}"
        self.findings.append(line_finding(line, identity, DUPLICATE, OPEN, detail, moves))
        return True

    def _count_in_batch(self, line: PspLine) -> None:
        if line.batch is None:
            return
        batch = self.batches.get(line.batch)
        if batch is None:
            batch = self.batches[line.batch] = Batch()
        if line.kind is K.MERCHANT_PAYOUT:
            batch.payout_minor = (batch.payout_minor or 0) - line.net_minor
            batch.payout_line = line.line
            batch.payout_type = line.record_type.strip()
        else:
            batch.lines += 1
            batch.net_minor += line.net_minor

    def _matched(self, line: PspLine, gross: int, packed: str) -> None:
        chunk = self.chunks[-1]
        chunk.matched += 1
        chunk.gross_minor += gross
        chunk.net_minor += line.net_minor
        chunk.rows.append(packed)

    def _enter_chunk(self, number: int) -> None:
        index = max(0, number - 2) // self.rules.chunk_lines
        if self.chunks and self.chunks[-1].index == index:
            self.chunks[-1].last_line = number
            return
        if self.chunks:
            self.chunks[-1].close()
        self.chunks.append(Chunk(index, number, number))
