"""Commands on erasures: record one, once; find one (ADR 0012)."""

from __future__ import annotations

from uuid import UUID

from payments.domain.application import PaymentsApplication
from payments.domain.erasure import Erasure


class ErasureCommands:
    def __init__(self, application: PaymentsApplication) -> None:
        self.application = application

    def record(
        self, erasure_id: UUID, subject_digest: str, key_ids: list[UUID], requested_by: str
    ) -> Erasure:
        """Record the erasure; when it is recorded already (a retry after a crash), the
        stored one."""
        erasure = Erasure.record(erasure_id, subject_digest, key_ids, requested_by)
        return self.application.record_once(erasure)[0]

    def find(self, erasure_id: UUID) -> Erasure | None:
        return self.application.find(Erasure, erasure_id)
