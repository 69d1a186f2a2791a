"""A PaymentOrder's risk review (issue #17, ADR 0015): the commands on the rules' verdict and
an operator's decision. PaymentOrder keeps the events and the @event methods that assign; the
state's default stands at class level, so an order the status view rebuilds from its row
applies these events too."""

from __future__ import annotations

from collections.abc import Callable

from payments.domain.errors import IllegalTransition
from payments.domain.execution import PspExecution
from payments.domain.reasons import require_reason


class RiskState(PspExecution):
    """An order's risk review (issue #17): `risk_review` is the rule that sent it to review
    while an operator has not decided, None otherwise. The executor never charges an order
    under review: it does not need the executor, and no attempt may start."""

    risk_review: str | None = None
    risk_rule: str | None = None  # the rule that held or declined it
    _risk_assessed: Callable[..., None]
    _risk_reviewed: Callable[..., None]

    @property
    def needs_executor(self) -> bool:
        return super().needs_executor and self.risk_review is None

    def start_execution(self) -> None:
        if self.risk_review is not None:
            raise IllegalTransition(f"{self._state_name()} (in risk review)", "EXECUTING")
        super().start_execution()

    def assess_risk(
        self, outcome: str, rule: str | None, numbers: dict[str, int], detail: str
    ) -> None:
        """Record the rules' verdict; only before the first attempt."""
        if self.is_terminal or self.is_executing or self.attempts:
            raise IllegalTransition(self._state_name(), "risk assessed")
        self._risk_assessed(outcome=outcome, rule=rule, numbers=numbers, detail=detail)

    def review_risk(self, approved: bool, reason: str, actor: str) -> None:
        """An operator approves or declines an order in review (IllegalTransition otherwise)."""
        require_reason(reason)
        if self.risk_review is None:
            raise IllegalTransition(self._state_name(), "approved" if approved else "declined")
        self._risk_reviewed(
            approved=approved,
            reason=reason,
            actor=actor,
            rule=self.risk_review,
            reference=self.reference,
        )
