"""What the PSP's objects mean: its charges, payouts, refunds, disputes and balance, read and
classified once (DESIGN §5), wherever they come from (an answer, a look-up or a webhook).

Classification: success; declined (final, with the failure code); pending (wait for the
webhook, re-query later); anything we cannot read is retryable, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from payments.domain.dispute import PSP_STATUSES, PspDispute
from payments.domain.execution import (
    Declined,
    FailureCode,
    LookupAnswer,
    NotFoundAtPsp,
    Pending,
    PspAnswer,
    Retryable,
    Succeeded,
)
from payments.psp.http import PspHttp, PspResponse, PspTransportError

_FAILURE_CODES = {code.value: code for code in FailureCode}

REFUND_FINALS = {"succeeded", "failed"}


PAYOUT_FINALS = {"paid", "failed", "returned"}


@dataclass(frozen=True, slots=True)
class PayoutState:
    """What the PSP holds for one of our payouts: its status and the PSP's own id."""

    status: str  # pending, paid, failed, returned
    psp_reference: str
    failure_code: str


@dataclass(frozen=True, slots=True)
class PspLookup:
    """A look-up by our reference with what the PSP holds: the classified answer, and the
    amount and currency of its object (None when it has none to show)."""

    answer: LookupAnswer
    amount_minor: int | None = None
    currency: str | None = None


class SettlementUnavailable(RuntimeError):
    """The PSP did not hand over a day's settlement file (not yet, or not reachable)."""


class BalanceUnavailable(RuntimeError):
    """The PSP did not answer its balance (not reachable, or a body we cannot read)."""


@dataclass(frozen=True, slots=True)
class PspBalance:
    """`GET /v1/balance`: per currency, in minor units, what is final (available: every line
    of its settlement files) and what is on its way (pending: not final yet, may be < 0)."""

    available: dict[str, int]
    pending: dict[str, int]


def balance_of(body: object) -> PspBalance:
    """Read the PSP's balance object ({"available": [{"amount", "currency"}], "pending": ...})."""
    if not isinstance(body, dict):
        raise BalanceUnavailable("the PSP's balance is not an object")
    found: dict[str, dict[str, int]] = {}
    for part in ("available", "pending"):
        amounts = body.get(part)
        if not isinstance(amounts, list):
            raise BalanceUnavailable(f"the PSP's balance has no {part} list")
        found[part] = {}
        for item in amounts:
            amount = item.get("amount") if isinstance(item, dict) else None
            currency = item.get("currency") if isinstance(item, dict) else None
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise BalanceUnavailable(f"an {part} amount is not an integer: {item!r}"[:200])
            if not isinstance(currency, str) or not currency:
                raise BalanceUnavailable(f"an {part} amount has no currency: {item!r}"[:200])
            key = currency.upper()
            found[part][key] = found[part].get(key, 0) + amount
    return PspBalance(found["available"], found["pending"])


def _classified(
    found: dict[str, Any],
    kind: str,
    *,
    succeeded: tuple[str, ...] = ("succeeded",),
    default_reason: str = "failed",
    codes: dict[str, FailureCode] | None = None,
) -> PspAnswer:
    """Classify a PSP object by its status: succeeded, pending, failed (with its failure
    code, REJECTED when the code is not one we know), anything else retryable."""
    status = found.get("status")
    reference = str(found.get("id", ""))
    if status in succeeded:
        return Succeeded(reference)
    if status == "pending":
        return Pending(reference)
    if status == "failed":
        raw = found.get("failure_code")
        code = (codes or {}).get(str(raw), FailureCode.REJECTED)
        return Declined(code, str(raw or default_reason), reference or None)
    return Retryable(f"unknown {kind} status {status!r}")


def outcome_of_charge(charge: dict[str, Any]) -> PspAnswer:
    """Classify a charge object as the PSP returns it (in answers, lookups and webhooks)."""
    return _classified(charge, "charge", codes=_FAILURE_CODES)


def outcome_of_payout(payout: dict[str, Any]) -> PspAnswer:
    """Classify a payout object: paid (or paid, then returned) is a success for execution."""
    return _classified(payout, "payout", succeeded=("paid", "returned"))


def outcome_of_refund(refund: dict[str, Any]) -> PspAnswer:
    """Classify a refund object (in answers, look-ups and webhooks)."""
    return _classified(refund, "refund", default_reason="refund_failed")


def problem_title(response: PspResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("title", "")) if isinstance(body, dict) else ""


# --- disputes -----------------------------------------------------------------------------

PSP_ID = re.compile(r"[A-Za-z0-9_-]{1,128}", re.ASCII)


@dataclass(frozen=True, slots=True)
class EvidenceRefused:
    """The PSP refused evidence: 409 (too late, or not awaiting it) or 422 (the text)."""

    status: int
    title: str


def dispute_of(found: dict[str, Any]) -> PspDispute | Retryable:
    """A dispute object as the PSP shows it, or Retryable when it is not one we can read."""
    try:
        amount, fee = found["amount"], found["fee"]
        status = PSP_STATUSES[found["status"]]
        due = datetime.fromisoformat(str(found["evidence_due_by"]))
        fields = [str(found[name]) for name in ("id", "charge", "charge_reference", "currency")]
    except (KeyError, TypeError, ValueError):
        return Retryable("PSP answered with a dispute we cannot read")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (amount, fee)):
        return Retryable("PSP answered with a dispute whose amounts we cannot read")
    return PspDispute(
        psp_dispute_id=fields[0],
        charge_id=fields[1],
        charge_reference=fields[2],
        amount_minor=amount,
        currency=fields[3].upper(),
        fee_minor=fee,
        reason=str(found.get("reason") or "unknown")[:100],
        status=status,
        evidence_due_by=due if due.tzinfo else due.replace(tzinfo=UTC),
    )


def send(
    http: PspHttp, doing: str, method: str, path: str, **options: Any
) -> PspResponse | Retryable:
    """One request to the PSP; a timeout or a broken connection is retryable (`doing`: what
    the timeout's message says we were doing, e.g. "re-querying")."""
    try:
        return http.request(method, path, **options)
    except PspTransportError as error:
        return Retryable(f"timeout {doing} the PSP" if error.timed_out else str(error))


def looked_up(
    response: PspResponse | Retryable, what: str = "a look-up"
) -> PspResponse | NotFoundAtPsp | Retryable:
    """A look-up's answer with a body to read (a 200), or what it means without one: a 404
    finds nothing at the PSP; a failed call or any other status is retried (`what` names
    the look-up in the message)."""
    if isinstance(response, Retryable):
        return response
    if response.status_code == 404:
        return NotFoundAtPsp()
    if response.status_code != 200:
        return Retryable(f"PSP answered {response.status_code} to {what}")
    return response
