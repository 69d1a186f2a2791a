"""Random marketplace histories, made by the real domain (commands and aggregates on an
in-memory event store), with the model (money_model.py) kept in step.

A history is a list of steps (money_steps.py). After each step the model's expectation is
remembered at the head of the log, so that views fed up to that position can be checked
against it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from payments.domain.application import (
    CheckoutPolicy,
    OrderLine,
    PaymentsApplication,
    PlaceCheckout,
)
from payments.domain.commission import Commission, RefundCommissionPolicy
from payments.domain.dispute_commands import DisputeCommands
from payments.domain.errors import InvalidCommand, OrderNotRefundable
from payments.domain.execution import Declined, FailureCode, Succeeded
from payments.domain.money import Money
from payments.domain.order_commands import OrderCommands
from payments.domain.payout import Payout
from payments.domain.reconciliation.expected import (
    REFUND,
    movement_id,
)
from payments.domain.reconciliation.memory import CAPTURE, Booking, pack
from payments.domain.reconciliation_run import ReconciliationRun
from payments.domain.refund_commands import RefundCommands, RequestRefund
from payments.projections.core import TrackedEvent
from payments.projections.followers.release_feed import SETTLED, TOPICS, settled_orders
from payments.projections.source import ApplicationEventSource
from tests.privacy.fakes import InMemorySealer
from tests.projections.money_disputes import CURRENCY, DisputeSteps
from tests.projections.money_model import (
    FAILED,
    IN_FLIGHT,
    IN_TRANSIT,
    NOT_STARTED,
    OPEN,
    PAID,
    RETURNED,
    SELLERS,
    SUCCEEDED,
    SUCCESS,
    WON,
    CommissionSpec,
    Expected,
    Model,
    Movement,
    OrderFact,
    PayoutFact,
    RefundFact,
    SettledLine,
)
from tests.projections.money_steps import (
    Charge,
    DisputeDecide,
    DisputeOpen,
    Outcome,
    PayoutAnswer,
    PayoutOutcome,
    PayoutRequest,
    PlaceOrders,
    RefundAmount,
    RefundAnswer,
    RefundOutcome,
    RefundRequest,
    Release,
    Settle,
    Step,
)

# --- the history -----------------------------------------------------------------------------


def picked(candidates: list[str], pick: int) -> str | None:
    return candidates[pick % len(candidates)] if candidates else None


@dataclass
class History(DisputeSteps):
    """The real application driven step by step, the model beside it."""

    commission: CommissionSpec
    policy: RefundCommissionPolicy
    model: Model = field(init=False)
    app: PaymentsApplication = field(init=False)
    snapshots: dict[int, Expected] = field(default_factory=dict)  # head of the log -> expected
    refusals: list[tuple[str, str | None]] = field(default_factory=list)  # (refund, why)
    release_position: int = 0
    counter: int = 0

    def __post_init__(self) -> None:
        self.model = Model(self.commission, self.policy)
        policy = CheckoutPolicy(
            CURRENCY,
            10**9,
            commission=Commission.parse(self.commission.text, CURRENCY),
            refund_commission=self.policy,
        )
        self.app = PaymentsApplication(
            policy, env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, sealer=InMemorySealer()
        )
        self.source = ApplicationEventSource(self.app)
        self.orders = OrderCommands(self.app)
        self.refunds = RefundCommands(self.app)
        self.disputes = DisputeCommands(self.app, self.policy)
        self.snapshots[0] = self.model.expected()

    @property
    def head(self) -> int:
        return self.source.head()

    def events(self, after: int = 0, topics: frozenset[str] | None = None) -> list[TrackedEvent]:
        found = self.source.read(after, self.head, 10**9, topics)
        return [self.source.decode(n) for n in found]

    def run(self, history: list[Step]) -> History:
        for step in history:
            self.apply(step)
            self.snapshots[self.head] = self.model.expected()
        return self

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def apply(self, step: Step) -> None:
        match step:
            case PlaceOrders(lines):
                self.place(lines)
            case Charge(pick, success):
                order_id = picked(self.model.ids(NOT_STARTED), pick)
                if order_id is not None:
                    self.charge(order_id, success)
            case Settle(mask, fee_per_mille, write_off, release):
                self.settle(mask, fee_per_mille, write_off)
                if release:
                    self.release()
            case Release():
                self.release()
            case RefundRequest(among, pick, amount, percent, outcome):
                order_id = picked(self.refund_candidates(among), pick)
                if order_id is None and among == "in_flight":
                    order_id = self.refund_left_in_flight(pick, percent)
                if order_id is not None:
                    self.request_refund(order_id, amount, percent, outcome)
            case RefundAnswer(pick, success):
                refund_id = picked(self.model.refunds_in(IN_FLIGHT), pick)
                if refund_id is not None:
                    self.answer_refund(refund_id, success)
            case DisputeOpen(pick, percent, fee):
                disputed = {d.order_id for d in self.model.disputes.values()}
                captured = [o for o in self.model.ids(SUCCESS) if o not in disputed]
                order_id = picked(captured, pick)
                if order_id is not None:
                    self.open_dispute(order_id, percent, fee)
            case DisputeDecide(pick, verdict):
                open_or_won = (OPEN, WON) if verdict == "lost" else (OPEN,)
                dispute_id = picked(self.model.disputes_in(*open_or_won), pick)
                if dispute_id is not None:
                    self.decide_dispute(dispute_id, verdict)
            case PayoutRequest(pick, percent, outcome):
                seller = picked([s for s in SELLERS if self.model.available(s) > 0], pick)
                if seller is not None:
                    self.pay_out(seller, percent, outcome)
            case PayoutAnswer(pick, verdict):
                wanted = PAID if verdict == "returned" else IN_TRANSIT
                payout_id = picked(self.model.payouts_in(wanted), pick)
                if payout_id is not None:
                    self.answer_payout(payout_id, verdict)

    def refund_candidates(self, among: str) -> list[str]:
        if among == "captured":
            return self.model.ids(SUCCESS)
        if among == "in_flight":
            refunds = self.model.refunds_in(IN_FLIGHT)
            return sorted({self.model.refunds[r].order_id for r in refunds})
        return self.model.ids()

    def refund_left_in_flight(self, pick: int, percent: int) -> str | None:
        """A refund of part of a captured order, left in flight (none to refund: None)."""
        orders = [o for o in self.model.ids(SUCCESS) if self.model.refundable(o) > 1]
        order_id = picked(orders, pick)
        if order_id is not None:
            self.request_refund(order_id, "part", percent, "in_flight")
        return order_id

    # --- orders ------------------------------------------------------------------------------

    def place(self, lines: tuple[tuple[int, int, Outcome], ...]) -> None:
        checkout_id = self.next_id("co")
        order_lines = tuple(
            OrderLine(f"po_{self.counter}_{i}", SELLERS[seller], Money(amount, CURRENCY))
            for i, (seller, amount, _) in enumerate(lines)
        )
        placement = self.app.place_checkout(
            PlaceCheckout(
                checkout_id=checkout_id,
                buyer_info={"email": "buyer@example.com"},
                card_token="tok_visa",
                card_details={},
                orders=order_lines,
            )
        )
        for line, order in zip(order_lines, placement.orders, strict=True):
            fact = OrderFact(
                line.payment_order_id,
                line.seller_account,
                line.amount.minor,
                self.commission.of(line.amount.minor),
            )
            assert (order.commission_minor, order.funds_held) == (fact.commission, True)
            self.model.orders[fact.order_id] = fact
        for line, (_, _, outcome) in zip(order_lines, lines, strict=True):
            if outcome != "later":
                self.charge(line.payment_order_id, outcome == "success")

    def charge(self, order_id: str, success: bool) -> None:
        order = self.app.get_order(order_id)
        order.start_execution()
        if success:
            order.record_success(f"ch_{order_id}", source="psp")
        else:
            order.record_failure(FailureCode.CARD_DECLINED, "declined", f"ch_{order_id}", "psp")
        self.app.record(order)
        self.model.orders[order_id].status = SUCCESS if success else FAILED
        if success:
            amount = self.model.orders[order_id].amount
            self.model.movements[order_id] = Movement(order_id, CAPTURE, amount)

    # --- settlement and release ----------------------------------------------------------------

    def settle(self, mask: int, fee_per_mille: int, write_off: int) -> None:
        """A reconciliation run books the chosen movements (captures, refunds) as the PSP
        settled them: a fee, a write-off within the tolerance, the net (net + fee + write-off
        = our signed amount)."""
        candidates = self.model.unsettled()
        if not candidates:
            return
        chosen = [m for i, m in enumerate(candidates) if mask >> (i % 13) & 1]
        chosen = chosen or [candidates[mask % len(candidates)]]
        bookings, lines = [], []
        for number, movement in enumerate(chosen, start=2):
            fee = abs(movement.signed) * fee_per_mille // 1000
            off = min(write_off, movement.signed - fee) if movement.signed > 0 else write_off
            line = SettledLine(movement.reference, movement.signed - fee - off, fee, off)
            identity = hashlib.sha256(movement.reference.encode()).hexdigest()[:32]
            bookings.append(
                Booking(number, movement.booking, identity, line.reference, line.net, fee, off)
            )
            lines.append(line)
        run = ReconciliationRun(
            file_sha256=hashlib.sha256(self.next_id("file").encode()).hexdigest(),
            file_format="adyen_settlement_details",
            currency=CURRENCY,
            period_start="2030-01-01",
            period_end="2030-01-01",
            as_of=datetime(2030, 1, 2, tzinfo=UTC),
            window_days=3,
            through_position=self.head,
        )
        run.record_settled(chunk=1, bookings=pack(bookings), already_reconciled=0)
        self.app.record(run)
        for line in lines:
            self.model.settlements[line.reference] = line
            if line.reference in self.model.orders:
                self.model.settled_not_seen.append(line.reference)

    def release(self) -> None:
        """What the release follower does with the bookings since its position."""
        through = self.head
        booked = self.events(self.release_position, TOPICS)
        loaded = {order_id: self.app.get_order(order_id) for order_id in settled_orders(booked)}
        held = {i: order for i, order in loaded.items() if order.awaits_release}
        if held:
            self.orders.release_funds(held, SETTLED)
        self.release_position = through
        for order_id in self.model.settled_not_seen:
            self.model.orders[order_id].released = True
        self.model.settled_not_seen.clear()

    # --- refunds -------------------------------------------------------------------------------

    def request_refund(
        self, order_id: str, kind: RefundAmount, percent: int, outcome: RefundOutcome
    ) -> None:
        refundable = self.model.refundable(order_id)
        amount: int | None = {
            "rest": None,
            "part": max(1, refundable * percent // 100),
            "exact": refundable,
            "over": refundable + 1,
            "zero": 0,
        }[kind]
        expected = self.model.refusal(order_id, amount)
        refund_id = self.next_id("re")
        try:
            placement = self.refunds.request_refund(
                RequestRefund(refund_id, order_id, amount, reason=None, requested_by="key_test")
            )
            refusal = None
        except OrderNotRefundable:
            refusal = "not_refundable"
        except InvalidCommand:
            refusal = "invalid"
        self.refusals.append((refund_id, refusal))
        assert refusal == expected, (order_id, amount, refundable, refusal, expected)
        if refusal is not None:
            return
        taken = refundable if amount is None else amount
        seller_share, platform_share = self.model.split(order_id, taken)
        refund = placement.refund
        assert (refund.amount_minor, refund.seller_share_minor, refund.platform_share_minor) == (
            taken,
            seller_share,
            platform_share,
        )
        order = self.model.orders[order_id]
        self.model.refunds[refund_id] = RefundFact(
            refund_id, order_id, order.seller, taken, seller_share, platform_share
        )
        refund = self.refunds.get(refund_id)
        refund.start_execution()
        self.app.record(refund)
        if outcome != "in_flight":
            self.answer_refund(refund_id, outcome == "succeeded")

    def answer_refund(self, refund_id: str, success: bool) -> None:
        answer: Succeeded | Declined = (
            Succeeded(f"psp_{refund_id}")
            if success
            else Declined(FailureCode.REJECTED, "refused", f"psp_{refund_id}")
        )
        assert self.refunds.record_answer(refund_id, answer, source="psp")
        refund = self.model.refunds[refund_id]
        refund.status = SUCCEEDED if success else FAILED
        if success:
            reference = movement_id(REFUND, refund_id)
            self.model.movements[reference] = Movement(reference, REFUND, -refund.amount)

    # --- payouts -------------------------------------------------------------------------------

    def pay_out(self, seller: str, percent: int, outcome: PayoutOutcome) -> None:
        """A payout of part of what is available (the SellerWallet's rule: never more)."""
        available = self.model.available(seller)
        payout_id = self.next_id("pay")
        amount = max(1, available * percent // 100)
        payout = Payout(payout_id, seller, amount, CURRENCY, f"btok_{seller}", None, "key_test")
        payout.start_execution()
        self.app.record(payout)
        self.model.payouts[payout_id] = PayoutFact(payout_id, seller, amount)
        if outcome == "returned":
            self.answer_payout(payout_id, "paid")
        if outcome != "in_transit":
            self.answer_payout(payout_id, outcome)

    def answer_payout(self, payout_id: str, verdict: str) -> None:
        payout = self.app.get_payout(payout_id)
        if verdict == "paid":
            assert payout.record_paid(f"psp_{payout_id}", source="psp")
        elif verdict == "failed":
            assert payout.record_failure("account closed", f"psp_{payout_id}", source="psp")
        else:
            assert payout.record_returned(f"psp_{payout_id}", source="webhook")
        self.app.record(payout)
        self.model.payouts[payout_id].status = {"paid": PAID, "failed": FAILED}.get(
            verdict, RETURNED
        )
