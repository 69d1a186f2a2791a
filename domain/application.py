"""The payments application: the event store, and the one place that saves (ADR 0009).

Every command of the system ends in `PaymentsApplication.record` or one of the two ways to
save again on a concurrent write (`retry_on_conflict`, `save_each`); the command modules
beside this one (order_commands, payout_commands, wallet_commands, execution_commands,
reconciliation_commands) decide, this class persists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from enum import Enum
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from eventsourcing.utils import EnvType

from payments.domain.checkout import Checkout
from payments.domain.errors import (
    CheckoutConflict,
    PaymentOrderConflict,
    found,
)
from payments.domain.execution import FailureCode
from payments.domain.group_commit import WITH_EVENTS, AtPosition, GroupCommit
from payments.domain.ids import checkout_uuid, payment_order_uuid, payout_uuid, seller_wallet_uuid
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.personal_data import (
    PersonalDataSealer,
    SealedPersonalData,
    SealedPersonalDataAsDict,
    Sealing,
)
from payments.domain.place_checkout import (
    CheckoutPolicy,
    OrderLine,
    PlaceCheckout,
    Placement,
    PlacementAnswer,
)
from payments.domain.risk import RiskCounter
from payments.domain.seller_wallet import SellerWallet

SAVE_ATTEMPTS = 5
GROUP_COMMIT_MAX = 64  # saves written in one transaction at the most
# Concurrent checkouts on one risk counter: each conflict means another one was saved.
RISK_SAVE_ATTEMPTS = 64
A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")
# The risk stage: records each new order's verdict, answers the counters to save with them.
Assessment = Callable[[Checkout, list[PaymentOrder]], Sequence[Aggregate]]
log = logging.getLogger("payments.domain")

# The checkout command's values live in place_checkout.py; they are imported from here too.
__all__ = [
    "Assessment",
    "CheckoutPolicy",
    "OrderLine",
    "PaymentsApplication",
    "PlaceCheckout",
    "Placement",
]


class EnumAsValue(Transcoding):
    """Stores an Enum member as {"_type_": name, "_data_": value}, decoded back to the member."""

    def __init__(self, enum_type: type[Enum], name: str) -> None:
        self.type = enum_type
        self.name = name

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        member: Enum = self.type(data)
        return member


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's `project_aggregate` without its per-event runtime-protocol assert (about
    50 µs an event on Python 3.11: a three-event order found in 211 µs with it, 65 without)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class PaymentsApplication(Application[UUID]):
    name = "Payments"
    # A busy seller's wallet gets an event per follower batch, a busy card's counter one per
    # order: replay from a recent snapshot.
    snapshotting_intervals = {SellerWallet: 100, RiskCounter: 100}

    def __init__(
        self,
        policy: CheckoutPolicy,
        env: EnvType | None = None,
        sealer: PersonalDataSealer | None = None,
        group_commit: int = GROUP_COMMIT_MAX,
    ) -> None:
        super().__init__(env)
        self.policy = policy
        self.sealer = sealer
        # Concurrent commands share transactions (ADR 0019); 1 writes each save alone.
        self.group_commit = GroupCommit(self._record, group_commit)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(EnumAsValue(FailureCode, "payments.FailureCode"))
        transcoder.register(SealedPersonalDataAsDict())

    # --- checkouts ------------------------------------------------------------------

    def place_checkout(
        self,
        command: PlaceCheckout,
        assess: Assessment | None = None,
        answer: PlacementAnswer | None = None,
    ) -> Placement:
        """Create a checkout and its orders atomically, or return the identical existing one.
        `assess` (risk rules, domain/risk_commands.py) records each order's verdict and answers
        the counters to save too; a conflict on one decides again on fresh counts (ADR 0015).
        `answer` is stored with the events of a placement created (`created`), never else."""
        self.policy.refuse_invalid(command)
        sealing = self._seal(command, key_with_events=True)
        if sealing.key_to_store is not None:
            # A new key of the checkout's own, written in the events' transaction. A conflict
            # writes neither: refuse a new checkout's taken order id, answer a placed checkout
            # on its stored key, else place below on the stored key (left by an earlier try).
            try:
                return self._place(command, assess, sealing, answer, settle=False)
            except IntegrityError:
                if self.find(Checkout, checkout_uuid(command.checkout_id)) is None:
                    self._refuse_taken_orders(command)
                sealing = self._seal(command)
                existing = self._existing_placement(command, command.fingerprint(sealing.digest))
                if existing is not None:
                    return existing
        return self._place(command, assess, sealing, answer, settle=True)

    def _place(
        self,
        command: PlaceCheckout,
        assess: Assessment | None,
        sealing: Sealing,
        answer: PlacementAnswer | None,
        *,
        settle: bool,
    ) -> Placement:
        """Save a new placement; `settle`: on a conflict, answer, refuse or decide again."""
        fingerprint = command.fingerprint(sealing.digest)
        placed: list[Placement] = []

        def decide() -> list[Aggregate]:
            if assess is not None and placed:  # a retry: placed meanwhile by another writer?
                existing = self._existing_placement(command, fingerprint)
                if existing is not None:
                    placed[0] = existing
                    return []
                self._refuse_taken_orders(command)
            checkout, orders = self._new_placement(command, sealing.sealed, fingerprint)
            placed[:] = [Placement(checkout, orders, created=True)]
            if answer is not None:
                answer.answering(placed[0])
            return [checkout, *orders, *(assess(checkout, orders) if assess else ())]

        rows = [row for row in (sealing.key_to_store, answer) if row is not None]
        attempts = RISK_SAVE_ATTEMPTS if assess and settle else 1
        # Save first (new checkouts are the common case); a taken id shows as IntegrityError.
        try:
            position = self.retry_on_conflict(decide, attempts, with_events=rows)
        except IntegrityError:
            if not settle:
                raise
            existing = self._existing_placement(command, fingerprint)
            if existing is not None:
                return existing
            self._refuse_taken_orders(command)
            raise
        placement = placed[0]
        return placement if not placement.created else replace(placement, position=position)

    def _refuse_taken_orders(self, command: PlaceCheckout) -> None:
        for line in command.orders:
            if self.find(PaymentOrder, payment_order_uuid(line.payment_order_id)):
                raise PaymentOrderConflict(line.payment_order_id) from None

    def _new_placement(
        self, command: PlaceCheckout, sealed: SealedPersonalData, fingerprint: str
    ) -> tuple[Checkout, list[PaymentOrder]]:
        checkout = Checkout(
            checkout_id=command.checkout_id,
            buyer_info=sealed,
            card_token=command.card_token,
            card_details=command.card_details,
            payment_order_ids=[o.payment_order_id for o in command.orders],
            content_fingerprint=fingerprint,
        )
        orders = [
            PaymentOrder(
                payment_order_id=line.payment_order_id,
                checkout_id=command.checkout_id,
                seller_account=line.seller_account,
                amount_minor=line.amount.minor,
                currency=line.amount.currency,
                card_token=command.card_token,
                commission_minor=self.policy.commission.of(line.amount.minor),
                funds_held=True,
            )
            for line in command.orders
        ]
        return checkout, orders

    def _seal(self, command: PlaceCheckout, *, key_with_events: bool = False) -> Sealing:
        if self.sealer is None:
            raise RuntimeError("no PersonalDataSealer given: checkouts cannot be placed")
        return self.sealer.seal(
            command.subject, command.buyer_info, key_with_events=key_with_events
        )

    def _existing_placement(self, command: PlaceCheckout, fingerprint: str) -> Placement | None:
        checkout = self.find(Checkout, checkout_uuid(command.checkout_id))
        if checkout is None:
            return None
        if isinstance(checkout.buyer_info, dict):  # recorded before ADR 0012
            fingerprint = command.legacy_fingerprint()
        if checkout.content_fingerprint != fingerprint:
            raise CheckoutConflict(command.checkout_id)
        orders = [self.get_order(order_id) for order_id in checkout.payment_order_ids]
        return Placement(checkout, orders, created=False)

    # --- reads ----------------------------------------------------------------------

    def get_order(self, payment_order_id: str) -> PaymentOrder:
        order = self.find(PaymentOrder, payment_order_uuid(payment_order_id))
        return found(order, f"payment order {payment_order_id!r}")

    def get_checkout(self, checkout_id: str) -> Checkout:
        return found(self.find(Checkout, checkout_uuid(checkout_id)), f"checkout {checkout_id!r}")

    def find_payout(self, payout_id: str) -> Payout | None:
        return self.find(Payout, payout_uuid(payout_id))

    def get_payout(self, payout_id: str) -> Payout:
        return found(self.find_payout(payout_id), f"payout {payout_id!r}")

    def find_wallet(self, seller_account: str) -> SellerWallet | None:
        return self.find(SellerWallet, seller_wallet_uuid(seller_account))

    def find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate of that kind and id, or None (also when the id names another kind)."""
        snapshotted = any(issubclass(k, kind) for k in self.snapshotting_intervals)
        aggregate = self.load(aggregate_id, snapshots=snapshotted)
        return aggregate if isinstance(aggregate, kind) else None

    def load(self, aggregate_id: UUID, *, snapshots: bool = True) -> Aggregate | None:
        """The aggregate with that id, or None: the library's `repository.get` without its
        per-event runtime-protocol assert (`replay`), and with `snapshots=False` (a kind
        never snapshotted) without the query for a snapshot, which cannot be there."""
        if not snapshots:
            return cast(Aggregate | None, replay(None, self.events.get(aggregate_id)))
        try:
            return cast(Aggregate, self.repository.get(aggregate_id, projector_func=replay))
        except AggregateNotFoundError:
            return None

    # --- saving: the one way every command persists -------------------------------------

    def record_once(self, aggregate: A) -> tuple[A, bool]:
        """Save a new aggregate: (it, True); when its id is taken already (a retry, or another
        writer came first), (the stored one, False)."""
        try:
            self.record(aggregate)
        except IntegrityError:
            stored = self.find(type(aggregate), aggregate.id)
            if stored is None:
                raise
            return stored, False
        return aggregate, True

    def record(self, *aggregates: Aggregate, with_events: Sequence[object] = ()) -> int | None:
        """Save the aggregates' new events atomically; the position of the last one (None
        when there was nothing new). IntegrityError when another writer came first.
        `with_events`: rows the event store writes in the same transaction (a new key, an
        answer that names the position: `AtPosition`)."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            # ProcessingEvent.collect_events() without its runtime-protocol checks (~16 µs each)
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        if not processing.events:
            return None
        if with_events:
            processing.saved_kwargs[WITH_EVENTS] = list(with_events)
            last = processing.events[-1]
            for row in with_events:
                if isinstance(row, AtPosition):
                    row.follows((last.originator_id, last.originator_version))
        recordings = self.group_commit.save(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings[-1].notification.id

    def retry_on_conflict(
        self,
        decide: Callable[[], Sequence[Aggregate]],
        attempts: int = SAVE_ATTEMPTS,
        with_events: Sequence[object] = (),
    ) -> int | None:
        """Decide on fresh state and save; when another writer came first, decide again.

        `decide` loads what it needs, applies its commands and returns the aggregates to
        save (none: nothing to do). Raises the last IntegrityError after `attempts`.
        """
        for attempt in range(attempts):
            aggregates = decide()
            if not aggregates:
                return None
            try:
                return self.record(*aggregates, with_events=with_events)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
        return None

    def decide_and_save(
        self, decide: Callable[[], tuple[T, Sequence[Aggregate]]], attempts: int = SAVE_ATTEMPTS
    ) -> tuple[T, int | None]:
        """retry_on_conflict() for a decision that also answers something: `decide` returns
        (its answer, the aggregates to save); the last decision's answer and the position."""
        answers: list[T] = []

        def save() -> Sequence[Aggregate]:
            answer, aggregates = decide()
            answers[:] = [answer]
            return aggregates

        position = self.retry_on_conflict(save, attempts)
        return answers[0], position

    def change(self, load: Callable[[], A], command: Callable[[A], bool]) -> bool:
        """Run a command on one freshly loaded aggregate and save it, again on fresh state
        after a concurrent write; True when the command changed the aggregate."""

        def decide() -> tuple[bool, list[Aggregate]]:
            aggregate = load()
            return command(aggregate), [aggregate]

        return self.decide_and_save(decide)[0]

    def save_each(
        self,
        items: Iterable[T],
        changed: Callable[[T], A | None],
        redo: Callable[[T], A | None],
        attempts: int = SAVE_ATTEMPTS,
        companions: Callable[[A], Sequence[Aggregate]] | None = None,
    ) -> list[tuple[T, A]]:
        """Save a batch in one transaction; after a conflict, item by item on fresh state.

        `changed(item)` is the item's aggregate with its commands applied (None: nothing to
        save); `redo(item)` decides again on freshly loaded state; `companions(aggregate)`
        are other aggregates its change must be saved with (a refund's order). Answers each
        item whose events are stored with the aggregate saved for it; an item in conflict after
        `attempts` is left out (logged): its next turn decides again.
        """

        def with_companions(aggregate: A) -> list[Aggregate]:
            return [aggregate, *(companions(aggregate) if companions else ())]

        batch = [(item, aggregate) for item in items if (aggregate := changed(item)) is not None]
        try:
            self.record(*(saved for _, aggregate in batch for saved in with_companions(aggregate)))
        except IntegrityError:
            pass
        else:
            return batch
        saved: list[tuple[T, A]] = []
        for item, _ in batch:
            fresh: A | None = None

            def decide(item: T = item) -> list[Aggregate]:
                nonlocal fresh
                fresh = redo(item)
                return [] if fresh is None else with_companions(fresh)

            try:
                self.retry_on_conflict(decide, attempts)
            except IntegrityError:
                log.warning("left for later: still written concurrently", extra={"item": str(item)})
                continue
            if fresh is not None:
                saved.append((item, fresh))
        return saved
