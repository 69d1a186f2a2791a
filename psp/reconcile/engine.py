"""Reconcile one settlement file against our replayed history (DESIGN §8).

The file is streamed line by line; only our side (one compact fact per order) and a few
numbers per batch are kept in memory. Nothing is written until the whole file has been read
and classified: a bad file raises SettlementFormatError and records nothing. The run and all
its findings are then saved in one transaction; auto-fixes follow through the normal order
commands and are recorded on the run (resumed by a re-run if a crash interrupts them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from payments.domain.money import CURRENCY_EXPONENTS, currency_exponent
from payments.domain.reconciliation_commands import ReconciliationCommands
from payments.domain.reconciliation_run import (
    AMOUNT_MISMATCH,
    AUTO_FIX,
    AWAITING_SETTLEMENT,
    BATCH_MISMATCH,
    CLEARED,
    CURRENCY_MISMATCH,
    DUPLICATE,
    INFO,
    MISSING_AT_PSP,
    MISSING_INTERNALLY,
    OPEN,
    SETTLED_OUTSIDE_PERIOD,
    STATUS_MISMATCH,
    Finding,
    ReconciliationRun,
)
from payments.projections.reconciliation.history import (
    EXECUTING,
    RETURNED,
    SUCCESS,
    AwaitingOrder,
    History,
    OrderFacts,
    PayoutFacts,
    order_finding_id,
    paid_at,
    payout_finding_id,
    replay_history,
    succeeded_at,
)
from payments.psp.settlement import SettlementFormatError, SettlementLine, iter_settlement_lines

FILE_FORMAT = "adyen_settlement_details"
SETTLED_TYPES = frozenset({"Settled", "SettledBulk"})
FEE_TYPES = frozenset({"Fee", "MiscCosts", "PaymentCost", "InvoiceDeduction"})
PAYOUT_TYPES = frozenset({"Balancetransfer"})
BATCH_PAYOUT_TYPE = "MerchantPayout"
FINDINGS_PER_EVENT = 1_000


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    currency: str
    window_days: int = 3
    as_of: datetime | None = None  # default: now; decides awaiting vs missing at the PSP
    chunk_lines: int = 10_000


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run: ReconciliationRun
    created: bool


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def reconcile_file(
    commands: ReconciliationCommands,
    path: Path,
    options: ReconcileOptions,
    *,
    file_sha: str | None = None,
) -> RunOutcome:
    """Reconcile the file at `path`; the same file again returns the existing run."""
    file_sha = file_sha or file_sha256(path)
    existing = commands.find_run(file_sha)
    if existing is not None:
        commands.apply_auto_fixes(existing)
        return RunOutcome(existing, created=False)
    history = replay_history(commands.application)
    classifier = Classifier(history, options)
    with path.open("r", encoding="utf-8", newline="") as stream:
        try:
            classifier.feed_all(
                iter_settlement_lines(
                    stream,
                    currency=options.currency,
                    exponent=currency_exponent(options.currency),
                    other_currencies=CURRENCY_EXPONENTS,
                )
            )
        except UnicodeDecodeError as error:
            raise SettlementFormatError(
                classifier.last_line + 1, "", f"not UTF-8 text: {error.reason}"
            ) from None
    run, created = commands.record_run(classifier.build_run(file_sha))
    return RunOutcome(run, created=created)


class _Batch:
    __slots__ = (
        "commission",
        "interchange",
        "lines",
        "markup",
        "net",
        "other_fees",
        "payout",
        "payout_line",
        "scheme_fees",
    )

    def __init__(self) -> None:
        self.lines = self.net = 0
        self.commission = self.markup = self.scheme_fees = self.interchange = 0
        self.other_fees = 0
        self.payout: int | None = None
        self.payout_line: int | None = None


class Classifier:
    """Classifies lines as they stream by; `build_run` turns the result into a run."""

    def __init__(self, history: History, options: ReconcileOptions) -> None:
        self.history = history
        self.options = options
        self.as_of = options.as_of or datetime.now(UTC)
        self.findings: list[Finding] = []
        self.batches: dict[int | None, _Batch] = {}
        self.chunks: list[tuple[int, int, int, int, int, int]] = []
        self._chunk: list[int] = []  # index, first, last, matched, gross, net
        self.first_date: date | None = None
        self.last_date: date | None = None
        self.last_line = 1
        self.lines = 0

    def feed_all(self, lines: Iterable[SettlementLine]) -> None:
        for line in lines:
            self.feed(line)

    def feed(self, line: SettlementLine) -> None:
        number = self.last_line = line.line_number
        if self.lines == 0 and line.currency != self.options.currency:
            raise SettlementFormatError(
                number,
                "Gross Currency",
                f"the file settles {line.currency}; this deployment settles "
                f"{self.options.currency} only",
            )
        self.lines += 1
        day = line.creation_date.date()
        if self.first_date is None or day < self.first_date:
            self.first_date = day
        if self.last_date is None or day > self.last_date:
            self.last_date = day
        self._enter_chunk(number)
        batch = self.batches.get(line.batch_number)
        if batch is None:
            batch = self.batches[line.batch_number] = _Batch()
        if line.type == BATCH_PAYOUT_TYPE:
            batch.payout = (batch.payout or 0) + line.net_debit_minor - line.net_credit_minor
            batch.payout_line = number
            return
        batch.lines += 1
        batch.net += line.net_credit_minor - line.net_debit_minor
        batch.commission += line.commission_minor
        batch.markup += line.markup_minor
        batch.scheme_fees += line.scheme_fees_minor
        batch.interchange += line.interchange_minor
        if line.type in SETTLED_TYPES:
            self._settled(line)
        elif line.type in FEE_TYPES:
            batch.other_fees += line.net_debit_minor - line.net_credit_minor
        elif line.type in PAYOUT_TYPES:
            self._payout_line(line)
        else:
            self._line_finding(
                line,
                MISSING_INTERNALLY,
                OPEN,
                self.history.orders.get(line.merchant_reference),
                f"a {line.type} line: we have no record of it",
            )

    def _settled(self, line: SettlementLine) -> None:
        order = self.history.orders.get(line.merchant_reference)
        if order is None:
            self._line_finding(line, MISSING_INTERNALLY, OPEN, None, "no order of ours")
            return
        if order.seen_line:
            detail = f"order already settled on line {order.seen_line}"
            self._line_finding(line, DUPLICATE, OPEN, order, detail)
            return
        order.seen_line = line.line_number
        gross = line.gross_credit_minor - line.gross_debit_minor
        if line.currency != order.currency:
            detail = f"PSP settled {line.currency}, ours is {order.currency}"
            self._line_finding(line, CURRENCY_MISMATCH, OPEN, order, detail)
        elif gross != order.amount_minor:
            detail = f"PSP settled {gross}, ours is {order.amount_minor} (minor units)"
            self._line_finding(line, AMOUNT_MISMATCH, OPEN, order, detail)
        elif order.status == SUCCESS and order.psp_reference != line.psp_reference:
            detail = f"PSP settled charge {line.psp_reference}, ours is {order.psp_reference}"
            self._line_finding(line, DUPLICATE, OPEN, order, detail)
        elif order.status == SUCCESS:
            order.matched = True
            self._chunk[3] += 1
            self._chunk[4] += gross
            self._chunk[5] += line.net_credit_minor - line.net_debit_minor
        elif order.status == EXECUTING:
            detail = f"ours {order.status_label}, PSP settled: recording the PSP's success"
            self._line_finding(line, STATUS_MISMATCH, AUTO_FIX, order, detail)
        else:
            detail = f"ours {order.status_label}, PSP settled it"
            self._line_finding(line, STATUS_MISMATCH, OPEN, order, detail)

    def _payout_line(self, line: SettlementLine) -> None:
        """A Balancetransfer line: a debit pays a payout of ours out, a credit returns it."""
        payout = self.history.payouts.get(line.merchant_reference)
        signed = line.gross_credit_minor - line.gross_debit_minor
        returned = signed > 0
        if payout is None:
            self._payout_finding(line, MISSING_INTERNALLY, None, "no payout of ours")
            return
        earlier = payout.return_line if returned else payout.seen_line
        if earlier:
            self._payout_finding(line, DUPLICATE, payout, f"payout already on line {earlier}")
            return
        if returned:
            payout.return_line = line.line_number
        else:
            payout.seen_line = line.line_number
        expected = payout.amount_minor if returned else -payout.amount_minor
        if line.currency != payout.currency:
            detail = f"PSP moved {line.currency}, ours is {payout.currency}"
            self._payout_finding(line, CURRENCY_MISMATCH, payout, detail)
        elif signed != expected:
            detail = f"PSP moved {signed}, ours is {expected} (minor units)"
            self._payout_finding(line, AMOUNT_MISMATCH, payout, detail)
        elif payout.was_paid and payout.psp_reference != line.psp_reference:
            detail = f"PSP paid payout {line.psp_reference}, ours is {payout.psp_reference}"
            self._payout_finding(line, DUPLICATE, payout, detail)
        elif (payout.status == RETURNED) if returned else payout.was_paid:
            if not returned:
                payout.matched = True
            self._chunk[3] += 1
            self._chunk[4] += signed
            self._chunk[5] += line.net_credit_minor - line.net_debit_minor
        else:
            detail = f"ours {payout.status_label}, PSP {'returned' if returned else 'paid'} it"
            self._payout_finding(line, STATUS_MISMATCH, payout, detail)

    def _payout_finding(
        self, line: SettlementLine, kind: str, payout: PayoutFacts | None, detail: str
    ) -> None:
        """Every payout difference waits for an operator: payouts are never fixed here."""
        signed = line.gross_credit_minor - line.gross_debit_minor
        expected = None
        if payout is not None:  # the line we expected: a debit, or a credit for a return
            expected = payout.amount_minor if signed > 0 else -payout.amount_minor
        self.findings.append(
            Finding(
                finding_id=f"line-{line.line_number}",
                kind=kind,
                state=OPEN,
                line=line.line_number,
                payout_id=payout.payout_id if payout else None,
                psp_reference=line.psp_reference or None,
                batch_number=line.batch_number,
                psp_type=line.type,
                our_status=payout.status_label if payout else None,
                expected_minor=expected,
                psp_minor=signed,
                expected_currency=payout.currency if payout else None,
                psp_currency=line.currency,
                detail=detail
                if payout or not line.merchant_reference
                else f"{detail}: merchant reference {line.merchant_reference!r}",
            )
        )

    def _line_finding(
        self,
        line: SettlementLine,
        kind: str,
        state: str,
        order: OrderFacts | None,
        detail: str,
    ) -> None:
        self.findings.append(
            Finding(
                finding_id=f"line-{line.line_number}",
                kind=kind,
                state=state,
                line=line.line_number,
                payment_order_id=order.payment_order_id if order else None,
                psp_reference=line.psp_reference or None,
                batch_number=line.batch_number,
                psp_type=line.type,
                our_status=order.status_label if order else None,
                expected_minor=order.amount_minor if order else None,
                psp_minor=line.gross_credit_minor - line.gross_debit_minor,
                expected_currency=order.currency if order else None,
                psp_currency=line.currency,
                detail=detail
                if order or not line.merchant_reference
                else f"{detail}: merchant reference {line.merchant_reference!r}",
            )
        )

    def _enter_chunk(self, number: int) -> None:
        index = (number - 2) // self.options.chunk_lines
        if self._chunk and self._chunk[0] == index:
            self._chunk[2] = number
            return
        self._close_chunk()
        self._chunk = [index, number, number, 0, 0, 0]

    def _close_chunk(self) -> None:
        if self._chunk:
            index, first, last, matched, gross, net = self._chunk
            self.chunks.append((index, first, last, matched, gross, net))
            self._chunk = []

    # --- the end of the file: orders it did not carry, batches ----------------------------

    def _order_findings(self) -> list[Finding]:
        history = self.history
        return self._timing_findings(
            _Expected(
                payment_order_id=order_id,
                payout_id=None,
                finding_id=order_finding_id(order_id),
                psp_reference=order.psp_reference,
                status_label=order.status_label,
                signed_minor=order.amount_minor,
                currency=order.currency,
                moment=succeeded_at(order),
                matched=order.matched,
                seen_line=order.seen_line,
                settled_elsewhere=order_id in history.settled_elsewhere,
                awaiting=history.awaiting.get(order_id),
                words=_ORDER_WORDS,
            )
            for order_id, order in history.orders.items()
            if order.status == SUCCESS
        )

    def _payout_findings(self) -> list[Finding]:
        """Our paid payouts without a debit line: the same timing rule as orders."""
        history = self.history
        return self._timing_findings(
            _Expected(
                payment_order_id=None,
                payout_id=payout_id,
                finding_id=payout_finding_id(payout_id),
                psp_reference=payout.psp_reference,
                status_label=payout.status_label,
                signed_minor=-payout.amount_minor,
                currency=payout.currency,
                moment=paid_at(payout),
                matched=payout.matched,
                seen_line=payout.seen_line,
                settled_elsewhere=payout_id in history.payouts_settled_elsewhere,
                awaiting=history.awaiting_payouts.get(payout_id),
                words=_PAYOUT_WORDS,
            )
            for payout_id, payout in history.payouts.items()
            if payout.was_paid
        )

    def _in_period(self, moment: datetime | None) -> bool:
        if moment is None or self.first_date is None or self.last_date is None:
            return False
        return self.first_date <= moment.astimezone(UTC).date() <= self.last_date

    def _timing_findings(self, expected: Iterable[_Expected]) -> list[Finding]:
        """DESIGN §8: not in this file is awaiting settlement until the window has passed."""
        window = timedelta(days=self.options.window_days)
        found: list[Finding] = []
        for item in expected:
            awaiting = item.awaiting
            if item.matched:
                if awaiting is not None:
                    found.append(self._note(item, CLEARED, awaiting.reference))
                elif not self._in_period(item.moment):
                    found.append(self._note(item, SETTLED_OUTSIDE_PERIOD, None))
                continue
            if item.seen_line or item.settled_elsewhere:
                continue
            if not self._in_period(item.moment) and awaiting is None:
                continue
            moment = item.moment
            assert moment is not None
            overdue = self.as_of - moment > window
            if not overdue and awaiting is not None:
                continue  # still awaiting on the earlier run
            found.append(
                Finding(
                    finding_id=item.finding_id,
                    kind=MISSING_AT_PSP if overdue else AWAITING_SETTLEMENT,
                    state=OPEN if overdue else INFO,
                    psp_reference=item.psp_reference,
                    our_status=item.status_label,
                    expected_minor=item.signed_minor,
                    expected_currency=item.currency,
                    detail=f"{item.words.happened} {moment.isoformat()}, not in this file"
                    + (f"; more than {self.options.window_days} days ago" if overdue else ""),
                    supersedes=awaiting.reference if awaiting else None,
                    payment_order_id=item.payment_order_id,
                    payout_id=item.payout_id,
                )
            )
        return found

    def _note(self, item: _Expected, kind: str, supersedes: str | None) -> Finding:
        return Finding(
            finding_id=f"line-{item.seen_line}",
            kind=kind,
            state=INFO,
            line=item.seen_line,
            psp_reference=item.psp_reference,
            our_status=item.status_label,
            expected_minor=item.signed_minor,
            psp_minor=item.signed_minor,
            expected_currency=item.currency,
            psp_currency=item.currency,
            detail=item.words.cleared if kind == CLEARED else item.words.outside_period,
            supersedes=supersedes,
            payment_order_id=item.payment_order_id,
            payout_id=item.payout_id,
        )

    def _batch_findings(self) -> list[Finding]:
        found: list[Finding] = []
        for number, batch in sorted(self.batches.items(), key=lambda item: item[0] or -1):
            if number is None or batch.payout == batch.net:
                continue
            detail = (
                f"batch lines net {batch.net}, no MerchantPayout line closes the batch"
                if batch.payout is None
                else f"batch lines net {batch.net}, MerchantPayout says {batch.payout}"
            )
            found.append(
                Finding(
                    finding_id=f"batch-{number}",
                    kind=BATCH_MISMATCH,
                    state=OPEN,
                    line=batch.payout_line,
                    batch_number=number,
                    psp_type=BATCH_PAYOUT_TYPE,
                    expected_minor=batch.net,
                    psp_minor=batch.payout,
                    expected_currency=self.options.currency,
                    psp_currency=self.options.currency,
                    detail=detail,
                )
            )
        return found

    def build_run(self, file_sha: str) -> ReconciliationRun:
        self._close_chunk()
        run = ReconciliationRun(
            file_sha256=file_sha,
            file_format=FILE_FORMAT,
            currency=self.options.currency,
            period_start=self.first_date.isoformat() if self.first_date else "",
            period_end=self.last_date.isoformat() if self.last_date else "",
            as_of=self.as_of,
            window_days=self.options.window_days,
            through_position=self.history.through_position,
        )
        for index, first, last, matched, gross, net in self.chunks:
            run.record_chunk(index, first, last, matched, gross, net)
        findings = (
            self.findings
            + self._order_findings()
            + self._payout_findings()
            + self._batch_findings()
        )
        for start in range(0, len(findings), FINDINGS_PER_EVENT):
            run.record_findings(findings[start : start + FINDINGS_PER_EVENT])
        batches: list[dict[str, Any]] = []
        for number, batch in sorted(self.batches.items(), key=lambda item: item[0] or -1):
            batches.append(
                {
                    "batch_number": number,
                    "lines": batch.lines,
                    "net_minor": batch.net,
                    "payout_minor": batch.payout,
                }
            )
            if number is not None and number not in self.history.fee_batches:
                run.book_fees(
                    number,
                    batch.commission,
                    batch.markup,
                    batch.scheme_fees,
                    batch.interchange,
                    batch.other_fees,
                )
        run.complete(self.lines, batches)
        return run


@dataclass(frozen=True, slots=True)
class _Words:
    happened: str
    cleared: str
    outside_period: str


_ORDER_WORDS = _Words(
    happened="succeeded",
    cleared="settles an order an earlier run was awaiting",
    outside_period="matched; the order succeeded outside this file's period",
)
_PAYOUT_WORDS = _Words(
    happened="payout paid",
    cleared="pays out a payout an earlier run was awaiting",
    outside_period="matched; the payout was paid outside this file's period",
)


@dataclass(frozen=True, slots=True)
class _Expected:
    """An order or payout of ours the file should carry, as the timing rule sees it."""

    payment_order_id: str | None
    payout_id: str | None
    finding_id: str
    psp_reference: str | None
    status_label: str
    signed_minor: int
    currency: str
    moment: datetime | None
    matched: bool
    seen_line: int
    settled_elsewhere: bool
    awaiting: AwaitingOrder | None
    words: _Words
