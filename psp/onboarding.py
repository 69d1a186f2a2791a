"""Seller onboarding (KYC) at the PSP: submit a seller, look its account up, and keep our
Seller in step with what the PSP's look-up says (#17).

The PSP's word is recorded only from its own answers: the answer to the submission, or a
look-up (`GET /v1/accounts/{id}`, or by our reference when the submission's answer was lost).
A webhook `account.updated` is only a hint to look up (DESIGN §11).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from payments.domain.execution import NotFoundAtPsp, Retryable
from payments.domain.seller import KycStatus, Seller
from payments.domain.seller_commands import SellerCommands
from payments.psp.answers import looked_up, problem_title, send
from payments.psp.http import PspHttp, PspResponse

log = logging.getLogger("payments.kyc")
KYC_STATUSES = frozenset({"pending", "verified", "rejected"})


@dataclass(frozen=True, slots=True)
class PspAccount:
    """The PSP's onboarding account of one of our sellers."""

    psp_account_id: str
    reference: str  # our seller account
    status: str  # pending | verified | rejected
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SubmissionRefused:
    """The PSP refused the submission itself (4xx: e.g. an unknown bank token)."""

    why: str


@dataclass(frozen=True, slots=True)
class KycDetails:
    """What the PSP's onboarding needs; the id number is sent, never stored in clear."""

    seller_account: str
    legal_name: str
    country: str
    id_number: str
    bank_token: str


def submission_key(seller_account: str) -> str:
    """One Idempotency-Key per seller: a resubmission after a crash finds the same account."""
    return f"kyc_{seller_account}"


class HttpOnboarding:
    """The PSP's onboarding API over HTTP (`/v1/accounts`)."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, api_key: str | None = None):
        # opened as needed; as many as the API's worker threads could ask for at once
        self._http = PspHttp(base_url, timeout_s=timeout_s, max_connections=32, api_key=api_key)

    def submit(self, details: KycDetails) -> PspAccount | SubmissionRefused | Retryable:
        body = {
            "reference": details.seller_account,
            "name": details.legal_name,
            "country": details.country,
            "id_number": details.id_number,
            "bank_token": details.bank_token,
        }
        key = submission_key(details.seller_account)
        response = self._send("POST", "/v1/accounts", json=body, headers={"Idempotency-Key": key})
        if isinstance(response, Retryable):
            return response
        status = response.status_code
        if status in (200, 201):
            return _account(response.json()) or Retryable("PSP answered an unreadable account")
        if status in (400, 404, 422):
            return SubmissionRefused(
                f"PSP refused the onboarding ({status}): {problem_title(response)}"
            )
        return Retryable(f"PSP answered {status}")

    def account(self, psp_account_id: str) -> PspAccount | NotFoundAtPsp | Retryable:
        response = self._send("GET", f"/v1/accounts/{quote(psp_account_id, safe='')}")
        return self._found(response, lambda body: body)

    def account_for(self, seller_account: str) -> PspAccount | NotFoundAtPsp | Retryable:
        """The latest account made for our seller (after a submission's answer was lost)."""
        response = self._send("GET", "/v1/accounts", params={"reference": seller_account})

        def latest(body: Any) -> Any:
            data = body.get("data") if isinstance(body, dict) else None
            return data[-1] if isinstance(data, list) and data else None

        return self._found(response, latest)

    def close(self) -> None:
        self._http.close()

    def _found(
        self, sent: PspResponse | Retryable, pick: Callable[[Any], Any]
    ) -> PspAccount | NotFoundAtPsp | Retryable:
        response = looked_up(sent)
        if not isinstance(response, PspResponse):
            return response
        try:
            found = _account(pick(response.json()))
        except ValueError:
            found = None
        return found or Retryable("PSP answered a look-up with a body we cannot read")

    def _send(self, method: str, path: str, **options: Any) -> PspResponse | Retryable:
        return send(self._http, "calling the onboarding of", method, path, **options)


def _account(body: Any) -> PspAccount | None:
    if not isinstance(body, Mapping):
        return None
    account_id, reference, status = body.get("id"), body.get("reference"), body.get("status")
    if not (isinstance(account_id, str) and isinstance(reference, str)):
        return None
    if status not in KYC_STATUSES:
        return None
    reason = body.get("rejection_reason")
    return PspAccount(
        account_id, reference, str(status), reason if isinstance(reason, str) else None
    )


# --- keeping a Seller in step with the PSP -------------------------------------------------


def record_account(sellers: SellerCommands, account: PspAccount, source: str) -> str:
    """Record what the PSP's own answer says about the seller; what changed, in words."""
    seller = sellers.get(account.reference)
    if seller.psp_account_id is None:
        sellers.record_submitted(
            account.reference, account.psp_account_id, account.status, account.reason
        )
        return f"submitted: KYC {account.status}"
    if seller.psp_account_id != account.psp_account_id:
        log.warning(
            "the PSP names another account for this seller: ignored",
            extra={"seller": account.reference, "psp_account": account.psp_account_id},
        )
        return "ignored: another account"
    if sellers.record_decision(account.reference, account.status, account.reason, source):
        return f"recorded: KYC {account.status}"
    return "no change"


def submit(sellers: SellerCommands, onboarding: HttpOnboarding, details: KycDetails) -> str:
    """Send the seller to the PSP's onboarding and record its answer; a failure to reach
    the PSP leaves the seller unverified for the KYC job to submit again."""
    answer = onboarding.submit(details)
    if isinstance(answer, Retryable):
        log.warning("KYC submission left for later", extra={"seller": details.seller_account})
        return f"not submitted yet: {answer.error}"
    if isinstance(answer, SubmissionRefused):
        log.warning("KYC submission refused", extra={"seller": details.seller_account})
        return f"refused: {answer.why}"
    return record_account(sellers, answer, "submit")


def refresh(
    sellers: SellerCommands,
    onboarding: HttpOnboarding,
    seller: Seller,
    details_of: Callable[[Seller], KycDetails | None],
) -> str:
    """One seller whose KYC awaits the PSP: submit it again (unverified) or look it up."""
    if seller.psp_account_id is None:
        found = onboarding.account_for(seller.seller_account)
        if isinstance(found, PspAccount):
            return record_account(sellers, found, "requery")
        if isinstance(found, Retryable):
            return f"not reached: {found.error}"
        details = details_of(seller)
        if details is None:
            return "cannot submit: the seller's personal data is erased"
        return submit(sellers, onboarding, details)
    if seller.kyc is not KycStatus.PENDING:
        return "no change"
    looked_up = onboarding.account(seller.psp_account_id)
    if isinstance(looked_up, PspAccount):
        return record_account(sellers, looked_up, "requery")
    if isinstance(looked_up, Retryable):
        return f"not reached: {looked_up.error}"
    return "the PSP holds no such account"


def confirm_account_event(
    sellers: SellerCommands, client: HttpOnboarding, psp_account_id: str, seller_account: str
) -> str | Retryable:
    """A webhook says a seller's account changed: look it up, record what the PSP shows.
    Nothing is looked up for a seller we do not know; a forged event records nothing."""
    if sellers.find(seller_account) is None:
        return "ignored: unknown reference"
    found = client.account(psp_account_id)
    if isinstance(found, Retryable):
        return found
    if isinstance(found, NotFoundAtPsp):
        return "ignored: not confirmed: the PSP holds no such account"
    if found.reference != seller_account:
        return "ignored: not confirmed: the account is another seller's"
    return record_account(sellers, found, "webhook")
