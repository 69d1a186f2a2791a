"""Commands on reconciliation runs (DESIGN §8): build a run from a classified file, record it
once per file, apply a safe fix once the PSP confirmed it, and record a person's decision on
an exception (which posts its adjustment)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import IntegrityError

from payments.domain.application import PaymentsApplication
from payments.domain.errors import DomainError, NotFound, found
from payments.domain.execution import LookupAnswer, NotFoundAtPsp, Retryable, Succeeded
from payments.domain.order_commands import OrderCommands
from payments.domain.payment_order import Status
from payments.domain.reconciliation.findings import Finding
from payments.domain.reconciliation.outcome import Classification
from payments.domain.reconciliation.recording import fill
from payments.domain.reconciliation_run import ReconciliationRun, reconciliation_run_uuid

RECORDED_SUCCESS = "recorded_success"
ALREADY_SUCCESS = "already_success"


def confirmation_refusal(finding: Finding, answer: LookupAnswer, amount: int | None) -> str | None:
    """Why the PSP's look-up does not confirm the settled line (None: it confirms it).

    Money moves only on a confirmed word (DESIGN §11): the PSP must know the charge as
    succeeded, under the line's reference, for the line's amount.
    """
    if isinstance(answer, NotFoundAtPsp):
        return "the PSP has no charge for this order: not confirmed"
    if not isinstance(answer, Succeeded):
        return f"the PSP's charge is not succeeded ({type(answer).__name__}): not confirmed"
    if answer.psp_reference != finding.psp_reference:
        return (
            f"the PSP's charge is {answer.psp_reference}, the line names "
            f"{finding.psp_reference}: not confirmed"
        )
    if amount is None or amount != finding.psp_minor:
        return f"the PSP's charge is for {amount}, the line for {finding.psp_minor}: not confirmed"
    return None


class ReconciliationCommands:
    def __init__(self, application: PaymentsApplication) -> None:
        self.application = application
        self.orders = OrderCommands(application)

    def find_run(self, file_sha: str) -> ReconciliationRun | None:
        return self.application.find(ReconciliationRun, reconciliation_run_uuid(file_sha))

    def get_run(self, run_id: str) -> ReconciliationRun:
        try:
            aggregate_id = UUID(run_id)
        except ValueError:
            raise NotFound(f"reconciliation run {run_id!r} not found") from None
        run = self.application.find(ReconciliationRun, aggregate_id)
        return found(run, f"reconciliation run {run_id!r}")

    def record_run(
        self, run: ReconciliationRun, classification: Classification
    ) -> tuple[ReconciliationRun, bool]:
        """Record the run of a classified file from its first slice (start_run), a slice per
        save (recording.py): (the run, True). The same file reconciled before, or
        concurrently, keeps the run recorded first: (that run, False)."""
        run, created = self.application.record_once(run)
        if created:
            run = self.complete_run(run, classification)
        return run, created

    def complete_run(
        self, run: ReconciliationRun, classification: Classification
    ) -> ReconciliationRun:
        """Record what `run` lacks of `classification` (all of it after its first slice, or
        the rest of an interrupted run), a slice per save, Completed last. Another process
        completing it meanwhile wins: its run is answered."""
        try:
            for _ in fill(run, classification):
                self.application.record(run)
            self.application.record(run)
        except IntegrityError:
            return self.get_run(str(run.id))
        return run

    def settle_auto_fix(
        self,
        run_id: str,
        finding_id: str,
        answer: LookupAnswer | None,
        psp_amount_minor: int | None = None,
    ) -> str:
        """Apply one safe fix the PSP was asked about (`answer` None: no PSP to ask).

        Confirmed: the order gets the PSP's success through the order commands and the line
        is booked; otherwise the finding opens for a person, saying why. A retryable look-up
        changes nothing (the next run of the same file asks again). Answers the outcome.
        """
        run = self.get_run(run_id)
        finding = run.findings[finding_id]
        assert finding.payment_order_id is not None
        assert finding.psp_reference is not None
        if isinstance(answer, Retryable):
            return f"not asked yet: {answer.error}"
        outcome = ""
        refusal = (
            "no PSP configured to confirm it: fixes need a look-up at the PSP"
            if answer is None
            else confirmation_refusal(finding, answer, psp_amount_minor)
        )
        if refusal is None:
            refusal, outcome = self._record_success(finding)
        if refusal is not None:
            self.application.change(
                lambda: self.get_run(run_id), lambda r: _decline(r, finding_id, refusal)
            )
            return refusal
        assert psp_amount_minor is not None
        self.application.change(
            lambda: self.get_run(run_id),
            lambda r: _confirm(r, finding, psp_amount_minor, outcome),
        )
        return outcome

    def _record_success(self, finding: Finding) -> tuple[str | None, str]:
        order_id, reference = finding.payment_order_id, finding.psp_reference
        assert order_id is not None
        assert reference is not None
        try:
            changed = self.orders.record_success(order_id, reference, source="reconciliation")
        except DomainError as error:
            return f"the order refused the PSP's success: {error}", ""
        order = self.application.get_order(order_id)
        if order.status is not Status.SUCCESS or order.psp_reference != reference:
            return f"the order is {order.status.value} under {order.psp_reference}", ""
        return None, RECORDED_SUCCESS if changed else ALREADY_SUCCESS

    def resolve(
        self, run_id: str, finding_id: str, action: str, reason: str, resolved_by: str = ""
    ) -> ReconciliationRun:
        """Record a person's decision on one open exception and post its adjustment (a second
        decision is refused)."""
        resolved: list[ReconciliationRun] = []

        def resolve(run: ReconciliationRun) -> bool:
            run.resolve(finding_id, action, reason, resolved_by)
            resolved[:] = [run]
            return True

        self.application.change(lambda: self.get_run(run_id), resolve)
        return resolved[0]


def _decline(run: ReconciliationRun, finding_id: str, reason: str) -> bool:
    if run.state_of(finding_id) != "auto_fix":
        return False  # decided meanwhile by another run of the same file
    run.decline_auto_fix(finding_id, reason)
    return True


def _confirm(run: ReconciliationRun, finding: Finding, amount: int, outcome: str) -> bool:
    if run.state_of(finding.finding_id) != "auto_fix":
        return False
    assert finding.psp_reference is not None
    run.confirm_auto_fix(finding.finding_id, finding.psp_reference, amount, outcome)
    return True
