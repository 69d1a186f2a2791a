"""Commands on existing payment orders: PSP outcomes from webhooks and reconciliation,
dead-letter replays. Each decides on fresh state again after a concurrent write."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from payments.domain.application import PaymentsApplication
from payments.domain.execution import FailureCode
from payments.domain.payment_order import PaymentOrder


class OrderCommands:
    def __init__(self, application: PaymentsApplication) -> None:
        self.application = application

    def record_success(self, payment_order_id: str, psp_reference: str, source: str) -> bool:
        return self._apply(
            payment_order_id, lambda order: order.record_success(psp_reference, source)
        )

    def record_failure(
        self,
        payment_order_id: str,
        code: FailureCode,
        reason: str,
        psp_reference: str | None,
        source: str,
    ) -> bool:
        return self._apply(
            payment_order_id,
            lambda order: order.record_failure(code, reason, psp_reference, source),
        )

    def release_funds(self, loaded: Mapping[str, PaymentOrder], reason: str) -> list[str]:
        """Release the sellers' shares of captured orders (ADR 0014), one save for the batch
        (item by item on fresh state after a concurrent write). `loaded` maps payment order
        ids to their current state; orders not captured, not held or released already are
        left as they are. Answers the ids whose release was recorded."""

        def released(order: PaymentOrder) -> PaymentOrder | None:
            return order if order.release_funds(reason) else None

        saved = self.application.save_each(
            sorted(loaded),
            lambda order_id: released(loaded[order_id]),
            lambda order_id: released(self.application.get_order(order_id)),
        )
        return [order_id for order_id, _ in saved]

    def replay_dead_letter(self, payment_order_id: str, reason: str, actor: str) -> int | None:
        """Send a dead-lettered order back to the executor; returns the event position."""
        order = self.application.get_order(payment_order_id)
        order.replay_dead_letter(reason, actor)
        return self.application.record(order)

    def _apply(self, payment_order_id: str, command: Callable[[PaymentOrder], bool]) -> bool:
        return self.application.change(
            lambda: self.application.get_order(payment_order_id), command
        )
