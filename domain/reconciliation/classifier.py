"""The streaming classifier: one settlement line at a time against our expected facts.

Memory holds our side (one fact per order and payout) and a few numbers per batch and chunk;
the file itself streams by. Each line gets exactly one class: matched (a capture or payout of
ours, booked), booked (a fee or a bank payout line), already reconciled (the same PSP line an
earlier run reconciled: counted, booked nothing), or a Finding. What the file should have
carried and did not is judged at the end (timing.py). One rule per kind of line
(`line_rules`); the books, and the lines about nothing of ours, are line_book.py's. A refund's
or dispute's line (Refunded, Chargeback and its dispute Fee, ChargebackReversed,
SecondChargeback) is matched to the movement of ours it reports, like a capture to its order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC
from functools import partial

from payments.domain.reconciliation.accounts import PSP_BALANCE, PSP_FEES, PSP_RECEIVABLE, seller
from payments.domain.reconciliation.expected import (
    CHARGEBACK,
    CHARGEBACK_REVERSAL,
    DISPUTE_FEE,
    EXECUTING,
    REFUND,
    RETURNED,
    SECOND_CHARGEBACK,
    SUCCESS,
    Expected,
    MovementFacts,
    movement_id,
)
from payments.domain.reconciliation.findings import (
    AMOUNT_MISMATCH,
    AUTO_FIX,
    DUPLICATE,
    DUPLICATE_SETTLEMENT,
    MISSING_INTERNALLY,
    OPEN,
    STATUS_MISMATCH,
    UNKNOWN_TYPE,
    UNMATCHED_CHARGEBACK,
    UNMATCHED_CORRECTION,
    UNMATCHED_REFUND,
    UNREADABLE_LINE,
    Finding,
)
from payments.domain.reconciliation.line_book import LineBook
from payments.domain.reconciliation.lines import Line, LineKind, PspLine, line_identity
from payments.domain.reconciliation.memory import (
    BANK_PAYOUT,
    CAPTURE,
    FEE,
    PAYOUT,
    PAYOUT_RETURN,
    row,
)
from payments.domain.reconciliation.outcome import (
    Classification,
    Rules,
    about_movement,
    about_order,
    about_payout,
    batch_findings,
    line_finding,
)
from payments.domain.reconciliation.timing import Period, awaited_items, timing_findings

K = LineKind
LineRule = Callable[[PspLine, str], None]
REFUND_KINDS = (K.REFUND_REVERSAL, K.CAPTURE_REVERSAL)  # we record no such thing
DISPUTE_LINES = {
    K.CHARGEBACK: CHARGEBACK,
    K.CHARGEBACK_REVERSAL: CHARGEBACK_REVERSAL,
    K.SECOND_CHARGEBACK: SECOND_CHARGEBACK,
}


class Classifier(LineBook):
    """Feed every line in order, then `finish()`."""

    def __init__(self, expected: Expected, rules: Rules) -> None:
        super().__init__(expected, rules)
        self.line_rules: dict[LineKind, LineRule] = {
            K.CAPTURE: self._capture,
            K.PAYOUT: self._payout,
            K.PAYOUT_RETURN: self._payout,
            K.FEE: self._fee,
            K.REFUND: self._refund,
            **{kind: partial(self._dispute_line, booking=b) for kind, b in DISPUTE_LINES.items()},
            K.MERCHANT_PAYOUT: partial(self._booked_line, booking=BANK_PAYOUT),
            K.MERCHANT_PAYOUT_RETURN: partial(self._booked_line, booking=BANK_PAYOUT),
            K.CORRECTION: partial(self._unmatched, kind=UNMATCHED_CORRECTION),
            K.OTHER: self._other,
            **{kind: partial(self._unmatched, kind=UNMATCHED_REFUND) for kind in REFUND_KINDS},
        }

    def feed_all(self, lines: Iterable[Line]) -> None:
        for line in lines:
            self.feed(line)

    def feed(self, line: Line) -> None:
        self.lines += 1
        self._enter_chunk(line.line)
        if not isinstance(line, PspLine):
            identity = line.identity
            if self._already_reconciled(identity):
                return
            kind = UNKNOWN_TYPE if line.unknown_type else UNREADABLE_LINE
            self.findings.append(
                Finding(
                    f"line-{line.line}", kind, OPEN, line=line.line, raw=line.raw,
                    column=line.column or None, detail=line.reason, line_identity=identity,
                )
            )  # fmt: skip
            return
        day = line.booked_at.astimezone(UTC).date()
        if self.first_date is None or day < self.first_date:
            self.first_date = day
        if self.last_date is None or day > self.last_date:
            self.last_date = day
        identity = line_identity(line)
        self._count_in_batch(line)  # a foreign line too: its currency is its own exception
        if self._foreign(line):
            self._foreign_line(line, identity)
            return
        self.line_rules[line.kind](line, identity)

    def finish(self) -> Classification:
        """Judge what did not arrive, check the batches, and hand over the result."""
        if self.chunks:
            self.chunks[-1].close()
        period = Period(self.first_date, self.last_date)
        items = awaited_items(self.expected, period)
        timing = timing_findings(items, period, self.rules.as_of, self.rules.window_days)
        return Classification(
            findings=self.findings + timing + batch_findings(self.batches, self.rules.currency),
            chunks=self.chunks,
            batches=self.batches,
            lines=self.lines,
            period_start=self.first_date.isoformat() if self.first_date else "",
            period_end=self.last_date.isoformat() if self.last_date else "",
            through_position=self.expected.through_position,
        )

    # --- one rule per kind of line -----------------------------------------------------

    def _capture(self, line: PspLine, identity: str) -> None:
        order = self.expected.orders.get(line.merchant_reference)
        if order is None:
            self._unmatched(line, identity, MISSING_INTERNALLY, "no order of ours")
            return
        gross, net, fee = line.gross_or_net_plus_fee, line.net_minor, line.fee_minor
        moves = {PSP_BALANCE: net, PSP_FEES: fee}

        def finding(kind: str, detail: str, state: str = OPEN, expected: int | None = None) -> None:
            made = line_finding(line, identity, kind, state, detail, moves)
            self.findings.append(about_order(made, order, expected))

        if order.seen_line:
            same = order.seen_identity == int(identity, 16)
            finding(
                DUPLICATE if same else DUPLICATE_SETTLEMENT,
                f"order already settled on line {order.seen_line} of this file",
            )
            return
        order.seen_line, order.seen_identity = line.line, int(identity, 16)
        settled = order.settled
        if settled is not None:
            if settled.identity != identity:
                finding(DUPLICATE_SETTLEMENT, f"order already settled by {settled.reference}")
            elif (gross, net) == (settled.gross_minor, settled.net_minor):
                self.chunks[-1].already_reconciled += 1
            else:
                moves = {PSP_BALANCE: net - settled.net_minor, PSP_FEES: fee - settled.fee_minor}
                finding(
                    AMOUNT_MISMATCH,
                    f"the line {settled.reference} booked comes again with gross {gross}, net "
                    f"{net} (booked: gross {settled.gross_minor}, net {settled.net_minor})",
                    expected=settled.gross_minor,
                )
            return
        if self._already_reconciled(identity):
            return
        if abs(gross - order.amount_minor) > self.rules.tolerance_minor:
            if order.status == SUCCESS:
                moves[PSP_RECEIVABLE] = -order.amount_minor
            finding(AMOUNT_MISMATCH, f"PSP settled {gross}, ours is {order.amount_minor} (minor)")
        elif order.status == SUCCESS and order.psp_reference != line.psp_reference:
            finding(
                DUPLICATE,
                f"PSP settled charge {line.psp_reference}, ours is {order.psp_reference}",
            )
        elif order.status == SUCCESS:
            order.matched = True
            write_off = order.amount_minor - gross
            packed = row(line.line, CAPTURE, identity, order.payment_order_id, net, fee, write_off)
            self._matched(line, gross, packed)
        elif order.status == EXECUTING:
            detail = f"ours {order.status_label}, PSP settled: to confirm at the PSP, then record"
            finding(STATUS_MISMATCH, detail, AUTO_FIX)
        else:
            finding(STATUS_MISMATCH, f"ours {order.status_label}, PSP settled it")

    def _payout(self, line: PspLine, identity: str) -> None:
        """A payout of ours left the PSP (a debit line), or came back (a credit line)."""
        payout = self.expected.payouts.get(line.merchant_reference)
        if payout is None:
            self._unmatched(line, identity, MISSING_INTERNALLY, "no payout of ours")
            return
        returned = line.kind is K.PAYOUT_RETURN
        signed, net = line.gross_or_net_plus_fee, line.net_minor
        expected = payout.amount_minor if returned else -payout.amount_minor
        moves = {PSP_BALANCE: net}

        def finding(kind: str, detail: str, expected_minor: int | None = expected) -> None:
            made = line_finding(line, identity, kind, OPEN, detail, moves)
            self.findings.append(about_payout(made, payout, expected_minor))

        earlier = payout.return_line if returned else payout.seen_line
        if earlier:
            finding(DUPLICATE, f"payout already on line {earlier}")
            return
        if returned:
            payout.return_line = line.line
        else:
            payout.seen_line = line.line
        settled = payout.return_settled if returned else payout.settled
        if settled is not None:
            if settled.identity != identity:
                finding(DUPLICATE_SETTLEMENT, f"payout already settled by {settled.reference}")
            elif (signed, net) == (settled.gross_minor, settled.net_minor):
                self.chunks[-1].already_reconciled += 1
            else:
                moves = {PSP_BALANCE: net - settled.net_minor}
                detail = f"the line {settled.reference} booked comes again with other amounts"
                finding(AMOUNT_MISMATCH, detail, settled.gross_minor)
            return
        if self._already_reconciled(identity):
            return
        recorded = payout.status == RETURNED if returned else payout.was_paid
        if recorded:  # Payout.Paid (or Returned) moved psp_balance by our amount already
            moves = {PSP_BALANCE: net - expected}
        elif not returned and payout.seller_account:  # the seller was paid after all
            moves = {PSP_BALANCE: net, seller(payout.seller_account): -net}
        if abs(signed - expected) > self.rules.tolerance_minor:
            finding(AMOUNT_MISMATCH, f"PSP moved {signed}, ours is {expected} (minor units)")
        elif payout.was_paid and payout.psp_reference != line.psp_reference:
            finding(DUPLICATE, f"PSP paid payout {line.psp_reference}, ours {payout.psp_reference}")
        elif recorded:
            if returned:
                payout.return_matched = True
            else:
                payout.matched = True
            kind = PAYOUT_RETURN if returned else PAYOUT
            self._matched(line, signed, row(line.line, kind, identity, payout.payout_id, net,
                                            line.fee_minor))  # fmt: skip
        else:
            verb = "returned" if returned else "paid"
            finding(STATUS_MISMATCH, f"ours {payout.status_label}, PSP {verb} it")

    def _refund(self, line: PspLine, identity: str) -> None:
        """A refund: named by our refund id (Merchant Reference) or the PSP's (Modification
        Reference)."""
        movements = self.expected.movements
        movement = movements.get(movement_id(REFUND, line.merchant_reference))
        if movement is None:
            by_psp = self.expected.refunds_by_psp.get(line.modification_reference, "")
            movement = movements.get(by_psp)
        if movement is None:
            self._unmatched(line, identity, UNMATCHED_REFUND, "no refund of ours")
        else:
            self._movement_line(line, identity, movement)

    def _dispute_line(self, line: PspLine, identity: str, booking: str) -> None:
        """A chargeback, its reversal or a second chargeback: named by the PSP's dispute id."""
        movement = self.expected.movements.get(movement_id(booking, line.modification_reference))
        if movement is None:
            self._unmatched(line, identity, UNMATCHED_CHARGEBACK, "no dispute of ours")
        else:
            self._movement_line(line, identity, movement)

    def _fee(self, line: PspLine, identity: str) -> None:
        """A fee line; a dispute's fee when it names a dispute or an order of ours."""
        movement = self.expected.movements.get(
            movement_id(DISPUTE_FEE, line.modification_reference)
        )
        if movement is not None:
            self._movement_line(line, identity, movement)
        elif line.merchant_reference and line.merchant_reference in self.expected.orders:
            self._unmatched(
                line, identity, UNMATCHED_CHARGEBACK, "a dispute fee of no dispute of ours"
            )
        else:
            self._booked_line(line, identity, FEE)

    def _movement_line(self, line: PspLine, identity: str, movement: MovementFacts) -> None:
        """The line of a refund or dispute movement: booked once, like a capture. A gross of 0
        (a dispute's Fee line: its amount is its net) counts as a net-only line."""
        net, fee = line.net_minor, line.fee_minor
        gross = line.gross_minor if line.gross_minor else net + fee
        moves = {PSP_BALANCE: net, PSP_FEES: fee}
        ours = movement.signed_minor

        def finding(kind: str, detail: str, expected: int | None = None) -> None:
            made = line_finding(line, identity, kind, OPEN, detail, moves)
            self.findings.append(about_movement(made, movement, expected))

        if movement.seen_line:
            same = movement.seen_identity == int(identity, 16)
            detail = f"{movement.movement_id} already settled on line {movement.seen_line}"
            finding(DUPLICATE if same else DUPLICATE_SETTLEMENT, detail)
            return
        movement.seen_line, movement.seen_identity = line.line, int(identity, 16)
        settled = movement.settled
        if settled is not None:
            if settled.identity != identity:
                detail = f"{movement.movement_id} already settled by {settled.reference}"
                finding(DUPLICATE_SETTLEMENT, detail)
            elif (gross, net) == (settled.gross_minor, settled.net_minor):
                self.chunks[-1].already_reconciled += 1
            else:
                moves = {PSP_BALANCE: net - settled.net_minor, PSP_FEES: fee - settled.fee_minor}
                detail = f"the line {settled.reference} booked comes again with other amounts"
                finding(AMOUNT_MISMATCH, detail, settled.gross_minor)
            return
        recorded = movement.status == SUCCESS
        if self._already_reconciled(identity):
            return
        if abs(gross - ours) > self.rules.tolerance_minor:
            if recorded:
                moves[PSP_RECEIVABLE] = -ours
            finding(AMOUNT_MISMATCH, f"PSP moved {gross}, ours is {ours} (minor units)")
        elif recorded:
            movement.matched = True
            packed = row(line.line, movement.kind, identity, movement.movement_id, net, fee,
                         ours - gross)  # fmt: skip
            self._matched(line, gross, packed)
        else:
            finding(STATUS_MISMATCH, f"ours {movement.status_label}, PSP settled it")
