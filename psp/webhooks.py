"""The PSP's webhook events: the signed envelope read, and what each event says about us.

Verification (signing.py) comes first; then `read_event` turns a body into one notice the
API can act on, or refuses a body it cannot understand (WebhookMalformed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

from payments.domain.execution import (
    Declined,
    LookupAnswer,
    NotFoundAtPsp,
    Pending,
    PspAnswer,
    Retryable,
    Succeeded,
)
from payments.psp.answers import outcome_of_charge, outcome_of_refund
from payments.psp.client import PspClient


class WebhookMalformed(ValueError):
    """A signed body that is not an event we can read; the message says what is wrong."""


class _Envelope(msgspec.Struct, frozen=True):
    id: str
    type: str
    data: dict[str, Any]
    created: int | None = None


@dataclass(frozen=True, slots=True)
class ChargeNotice:
    """charge.*: the final answer about the charge of one payment order."""

    event_id: str
    event_type: str
    payment_order_id: str
    answer: Succeeded | Declined


@dataclass(frozen=True, slots=True)
class PayoutNotice:
    """payout.paid | payout.failed | payout.returned about one of our payouts."""

    event_id: str
    event_type: str
    payout_id: str
    outcome: str  # "paid", "failed" or "returned"
    psp_reference: str
    reason: str


@dataclass(frozen=True, slots=True)
class RefundNotice:
    """refund.succeeded | refund.failed about one of our refunds (its refund_id)."""

    event_id: str
    event_type: str
    refund_id: str
    answer: Succeeded | Declined


@dataclass(frozen=True, slots=True)
class IgnoredNotice:
    event_id: str
    event_type: str
    why: str


@dataclass(frozen=True, slots=True)
class DisputeNotice:
    """dispute.*: a dispute of ours changed at the PSP (confirmed by look-up, never trusted)."""

    event_id: str
    event_type: str
    psp_dispute_id: str


@dataclass(frozen=True, slots=True)
class AccountNotice:
    """account.updated: a seller's onboarding changed at the PSP (confirmed by look-up)."""

    event_id: str
    event_type: str
    psp_account_id: str
    seller_account: str  # our reference, as the event claims it


Notice = ChargeNotice | PayoutNotice | RefundNotice | DisputeNotice | AccountNotice | IgnoredNotice
OutcomeNotice = ChargeNotice | PayoutNotice | RefundNotice
_PSP_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
NO_SUCH_ID = "no {} id the PSP could have given"
PAYOUT_OUTCOMES = {"payout.paid": "paid", "payout.failed": "failed", "payout.returned": "returned"}


def read_event(body: bytes) -> Notice:
    """What a (verified) webhook body tells us; WebhookMalformed when it is not readable."""
    try:
        envelope = msgspec.json.decode(body, type=_Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as error:
        raise WebhookMalformed(str(error)[:200]) from None
    if envelope.type.startswith("dispute."):
        dispute = envelope.data.get("object")
        if not isinstance(dispute, dict) or not isinstance(dispute.get("id"), str):
            raise WebhookMalformed("no dispute")
        if not _could_be_psp_id(dispute["id"]):
            return IgnoredNotice(envelope.id, envelope.type, NO_SUCH_ID.format("dispute"))
        return DisputeNotice(envelope.id, envelope.type, dispute["id"])
    if envelope.type.startswith("account."):
        account = _data_object(envelope, "account")
        if not isinstance(account.get("id"), str):
            raise WebhookMalformed("no account id")
        if not _could_be_psp_id(account["id"]):
            return IgnoredNotice(envelope.id, envelope.type, NO_SUCH_ID.format("account"))
        return AccountNotice(envelope.id, envelope.type, account["id"], account["reference"])
    if envelope.type.startswith("payout."):
        payout = _data_object(envelope, "payout")
        outcome = PAYOUT_OUTCOMES.get(envelope.type)
        if outcome is None:
            return IgnoredNotice(envelope.id, envelope.type, "not a final payout outcome")
        return PayoutNotice(
            envelope.id,
            envelope.type,
            payout_id=payout["reference"],
            outcome=outcome,
            psp_reference=str(payout.get("id", "")),
            reason=str(payout.get("failure_code") or "failed"),
        )
    if envelope.type.startswith("refund."):
        refund = _data_object(envelope, "refund")
        said: PspAnswer = outcome_of_refund(refund)
        if not isinstance(said, Succeeded | Declined):
            return IgnoredNotice(envelope.id, envelope.type, "not a final refund outcome")
        return RefundNotice(envelope.id, envelope.type, refund["reference"], said)
    if not envelope.type.startswith("charge."):
        return IgnoredNotice(envelope.id, envelope.type, "not a charge event")
    charge = _data_object(envelope, "charge")
    answer: PspAnswer = outcome_of_charge(charge)
    if not isinstance(answer, Succeeded | Declined):
        return IgnoredNotice(envelope.id, envelope.type, "not a final outcome")
    return ChargeNotice(envelope.id, envelope.type, charge["reference"], answer)


def _could_be_psp_id(value: str) -> bool:
    """Whether the PSP could have given this id, which a look-up puts in a URL path: letters,
    digits, `_` and `-`. An empty one asked the PSP's list route instead (which answered
    400, and the event was answered 503, "send it again", forever); a `/` or `..` would ask
    another route. One it could not have given is unknown without asking: ignored, as an
    unknown one is after the look-up."""
    return _PSP_ID.fullmatch(value) is not None


def _data_object(envelope: _Envelope, noun: str) -> dict[str, Any]:
    """The event's data.object, which must name our reference."""
    found = envelope.data.get("object")
    if not isinstance(found, dict) or not isinstance(found.get("reference"), str):
        raise WebhookMalformed(f"no {noun}")
    return found


# --- a signed webhook is a hint, not a word to move money on (DESIGN §11) ---------------


@dataclass(frozen=True, slots=True)
class Confirmed:
    """What the PSP's own look-up says, to be recorded instead of the webhook's word."""

    notice: OutcomeNotice


@dataclass(frozen=True, slots=True)
class Unconfirmed:
    """The look-up does not back the webhook (yet, or at all): nothing is recorded."""

    why: str


@dataclass(frozen=True, slots=True)
class LookupFailed:
    """The PSP could not be asked now: the webhook should come again later."""

    why: str


def confirm(notice: OutcomeNotice, client: PspClient) -> Confirmed | Unconfirmed | LookupFailed:
    """Ask the PSP by our reference what the webhook claims; the look-up's answer is what
    gets recorded (a forged or stale webhook records nothing; a webhook that disagrees with
    the PSP is superseded by the PSP)."""
    if isinstance(notice, ChargeNotice):
        found = _final(client.find_charge(notice.payment_order_id), "charge")
        if isinstance(found, Unconfirmed | LookupFailed):
            return found
        reference = notice.payment_order_id
        return Confirmed(ChargeNotice(notice.event_id, notice.event_type, reference, found))
    if isinstance(notice, RefundNotice):
        found = _final(client.find_refund(notice.refund_id), "refund")
        if isinstance(found, Unconfirmed | LookupFailed):
            return found
        return Confirmed(RefundNotice(notice.event_id, notice.event_type, notice.refund_id, found))
    state = client.payout_state(notice.payout_id)
    if isinstance(state, Retryable):
        return LookupFailed(state.error)
    if isinstance(state, NotFoundAtPsp):
        return Unconfirmed("the PSP holds no payout for this reference")
    if state.status != notice.outcome:
        return Unconfirmed(f"the PSP says the payout is {state.status}, not {notice.outcome}")
    return Confirmed(
        PayoutNotice(
            notice.event_id,
            notice.event_type,
            notice.payout_id,
            state.status,
            state.psp_reference,
            state.failure_code or "failed",
        )
    )


def _final(found: LookupAnswer, noun: str) -> Succeeded | Declined | Unconfirmed | LookupFailed:
    """The final outcome a look-up by our reference found, or why there is none to record."""
    if isinstance(found, Retryable):
        return LookupFailed(found.error)
    if isinstance(found, NotFoundAtPsp):
        return Unconfirmed(f"the PSP holds no {noun} for this reference")
    if isinstance(found, Pending):
        return Unconfirmed(f"the PSP says the {noun} is still pending")
    return found
