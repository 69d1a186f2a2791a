"""Commands on reconciliation runs (DESIGN §8): record a run once per file, apply its safe
fixes through the order commands, and record an operator's decision on an exception."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import IntegrityError

from payments.domain.application import PaymentsApplication
from payments.domain.errors import DomainError, NotFound
from payments.domain.order_commands import OrderCommands
from payments.domain.reconciliation_run import ReconciliationRun, reconciliation_run_uuid


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
        if run is None:
            raise NotFound(f"reconciliation run {run_id!r} not found")
        return run

    def record_run(self, run: ReconciliationRun) -> tuple[ReconciliationRun, bool]:
        """Save a new run and apply its fixes; (the run, True). The same file reconciled
        before, or concurrently, keeps the run recorded first: (that run, False)."""
        try:
            self.application.record(run)
        except IntegrityError:
            existing = self.find_run(run.file_sha256)
            if existing is None:
                raise
            self.apply_auto_fixes(existing)
            return existing, False
        self.apply_auto_fixes(run)
        return run, True

    def apply_auto_fixes(self, run: ReconciliationRun) -> int:
        """Give each EXECUTING order the PSP settled its success; record each fix on the run
        (a re-run of the file resumes fixes a crash interrupted)."""
        pending = run.pending_auto_fixes()
        for finding in pending:
            assert finding.payment_order_id is not None
            assert finding.psp_reference is not None
            try:
                changed = self.orders.record_success(
                    finding.payment_order_id, finding.psp_reference, source="reconciliation"
                )
                outcome = "recorded_success" if changed else "already_success"
            except DomainError as error:
                outcome = f"refused: {error}"
            run.record_auto_fix(finding.finding_id, finding.psp_reference, outcome)
        if pending:
            self.application.record(run)
        return len(pending)

    def resolve(self, run_id: str, finding_id: str, action: str, reason: str) -> ReconciliationRun:
        """Record an operator's decision on one open exception (a second one is refused)."""
        resolved: list[ReconciliationRun] = []

        def resolve(run: ReconciliationRun) -> bool:
            run.resolve(finding_id, action, reason)
            resolved[:] = [run]
            return True

        self.application.change(lambda: self.get_run(run_id), resolve)
        return resolved[0]
