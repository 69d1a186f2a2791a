"""Our disputes kept in line with the PSP's: a webhook or the re-query job names a dispute, the
PSP's own look-up says what it is, and that confirmed state is what gets recorded (DESIGN §11).
Evidence goes to the PSP first and is recorded once the PSP accepted it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from payments.domain.application import PaymentsApplication
from payments.domain.dispute import Dispute, DisputeStatus, PspDispute
from payments.domain.dispute_commands import DisputeCommands, DisputeMismatch
from payments.domain.errors import IllegalTransition, NotFound
from payments.domain.execution import NotFoundAtPsp, Retryable
from payments.psp.answers import EvidenceRefused

log = logging.getLogger("payments.disputes")
OPENED_TOPIC: str = Dispute.Opened.TOPIC
SCAN_PAGE = 1000


class DisputeLookups(Protocol):
    """What of a PSP client the dispute side uses."""

    def find_dispute(self, psp_dispute_id: str) -> PspDispute | NotFoundAtPsp | Retryable: ...

    def submit_evidence(
        self, psp_dispute_id: str, text: str
    ) -> PspDispute | EvidenceRefused | NotFoundAtPsp | Retryable: ...


@dataclass(frozen=True, slots=True)
class Synced:
    """What one confirmation did: `outcome` for the PSP and logs; `retry_status` when the PSP
    should deliver again: 503 (its look-up failed), 409 (our order has not recorded its
    capture yet)."""

    outcome: str
    retry_status: int | None = None
    dispute: Dispute | None = None

    @property
    def retry_later(self) -> bool:
        return self.retry_status is not None


def sync_dispute(psp_dispute_id: str, client: DisputeLookups, commands: DisputeCommands) -> Synced:
    """Look the dispute up at the PSP and record what it shows (nothing if it shows none)."""
    found = client.find_dispute(psp_dispute_id)
    if isinstance(found, Retryable):
        return Synced(f"not confirmed now: {found.error}", retry_status=503)
    if isinstance(found, NotFoundAtPsp):
        return Synced("ignored: the PSP holds no such dispute")
    try:
        recording = commands.record_psp_dispute(found)
    except NotFound:
        return Synced("ignored: the disputed charge is not one of our orders")
    except DisputeMismatch as error:
        log.warning("dispute not recorded", extra={"dispute": psp_dispute_id, "why": str(error)})
        return Synced(f"ignored: {error}")
    except IllegalTransition:
        return Synced("the order has not recorded its capture yet", retry_status=409)
    outcome = "recorded" if recording.changed else "no change"
    log.info("dispute confirmed", extra={"dispute": psp_dispute_id, "outcome": outcome})
    return Synced(outcome, dispute=recording.dispute)


# --- evidence ---------------------------------------------------------------------------------


class EvidenceNotAccepted(Exception):
    """The PSP refused the evidence (or could not be asked); `status` is the answer to give."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def submit_evidence(
    payment_order_id: str,
    text: str,
    submitted_by: str,
    now: datetime,
    client: DisputeLookups,
    commands: DisputeCommands,
) -> tuple[Dispute, int | None]:
    """Check, forward to the PSP, record: the dispute after it and the write's position.

    Refused before anything is sent when the order has no dispute, or it is closed or late
    (domain errors). A PSP that holds the dispute under review already (a retry after our
    record was lost) counts as accepted."""
    target = commands.evidence_target(payment_order_id, now)
    answer = client.submit_evidence(target.psp_dispute_id, text)
    if isinstance(answer, Retryable):
        raise EvidenceNotAccepted(503, f"the PSP could not be reached: {answer.error}")
    if isinstance(answer, NotFoundAtPsp):
        raise EvidenceNotAccepted(409, "the PSP no longer holds this dispute")
    if isinstance(answer, EvidenceRefused):
        confirmed = client.find_dispute(target.psp_dispute_id)
        if not (
            isinstance(confirmed, PspDispute) and confirmed.status is DisputeStatus.UNDER_REVIEW
        ):
            if isinstance(confirmed, PspDispute):
                commands.record_psp_dispute(confirmed)  # a decision we had missed
            raise EvidenceNotAccepted(answer.status, f"the PSP refused it: {answer.title}")
    position = commands.record_evidence(target.psp_dispute_id, submitted_by, text)
    dispute = commands.find(target.psp_dispute_id)
    assert dispute is not None
    return dispute, position


# --- the re-query job: no decision is lost with a dropped webhook --------------------------------


class DisputeWatch:
    """Re-reads at the PSP every dispute of ours that can still change (open, or won and so
    open to a second chargeback). Disputes are found by their Opened events in the log; the
    scan resumes where the last one ended (a new process scans once from the start)."""

    def __init__(self, application: PaymentsApplication) -> None:
        self.application = application
        self.scanned_to = 0
        self.known: list[str] = []

    def _opened_since_last_scan(self) -> Iterator[str]:
        recorder = self.application.recorder
        while True:
            page = recorder.select_notifications(
                self.scanned_to + 1, SCAN_PAGE, topics=[OPENED_TOPIC]
            )
            for notification in page:
                self.scanned_to = notification.id
                event = self.application.mapper.to_domain_event(notification)
                assert isinstance(event, Dispute.Opened)
                yield event.psp_dispute_id
            if len(page) < SCAN_PAGE:
                return

    def requery(self, client: DisputeLookups, commands: DisputeCommands) -> str:
        self.known.extend(self._opened_since_last_scan())
        counts = {"recorded": 0, "unchanged": 0, "failed": 0}
        still: list[str] = []
        for psp_dispute_id in self.known:
            dispute = commands.find(psp_dispute_id)
            if dispute is None or dispute.status is DisputeStatus.LOST:
                continue  # lost is final: never asked again
            still.append(psp_dispute_id)
            synced = sync_dispute(psp_dispute_id, client, commands)
            if synced.retry_later:
                counts["failed"] += 1
            else:
                counts["recorded" if synced.outcome == "recorded" else "unchanged"] += 1
        self.known = still
        return ", ".join(f"{n} {what}" for what, n in counts.items())
