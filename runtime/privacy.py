"""Personal data use cases: erase a subject, read a checkout's buyer_info (ADR 0012)."""

from __future__ import annotations

from dataclasses import dataclass

from payments.domain.application import PaymentsApplication
from payments.domain.checkout import Checkout
from payments.domain.erasure import Erasure
from payments.domain.erasure_commands import ErasureCommands
from payments.runtime.personal_data import PersonalDataKeys, PersonalDataReading


@dataclass(frozen=True, slots=True)
class ErasureOutcome:
    """The erasure that covers the subject, and whether this request made it."""

    erasure: Erasure
    erased_now: bool


def erase_subject(
    keys: PersonalDataKeys, erasures: ErasureCommands, subject: str, requested_by: str
) -> ErasureOutcome | None:
    """Erase the subject's keys, then record the erasure; None when it never had a key.

    The keys go first, so that nothing stays readable a moment longer than needed; a
    process that stops before the event is recorded leaves tombstones that say so, and the
    next erasure of the subject records it (with its original time and requester).
    """
    fresh = keys.erase(subject, requested_by)
    # Before recording: an erasure committed by another process after this look-up is
    # theirs to record; one committed before it is recorded below, by either of us.
    latest = fresh or keys.last_erasure(subject)
    digest = keys.subject_digest(subject)
    for pending in keys.unrecorded_erasures(subject):
        erasures.record(pending.erasure_id, digest, pending.key_ids, pending.erased_by)
        keys.mark_recorded(pending.erasure_id)
    if latest is None:
        return None
    erasure = erasures.find(latest.erasure_id)
    assert erasure is not None, "recorded above"
    return ErasureOutcome(erasure, erased_now=fresh is not None)


def read_buyer_info(
    application: PaymentsApplication, keys: PersonalDataKeys, checkout_id: str
) -> tuple[Checkout, PersonalDataReading]:
    """The checkout (NotFound when there is none) and what can be read of its buyer_info."""
    checkout = application.get_checkout(checkout_id)
    return checkout, keys.open(checkout.buyer_info)
