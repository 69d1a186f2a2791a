"""The PSP client: one protocol with every call, and its HTTP implementation.

What an answer means is read in psp/answers.py (DESIGN §5); here, what a call's transport and
status mean: retryable (timeouts, connection errors, 5xx, 429, 409 in flight), rejected (4xx,
confirmed by a look-up before it is final), or the object the PSP answered with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote

from payments.domain.dispute import PspDispute
from payments.domain.execution import (
    CallAnswer,
    FailureCode,
    LookupAnswer,
    NotFoundAtPsp,
    PspAnswer,
    Rejected,
    Retryable,
)
from payments.psp.answers import (
    PAYOUT_FINALS,
    PSP_ID,
    REFUND_FINALS,
    BalanceUnavailable,
    EvidenceRefused,
    PayoutState,
    PspBalance,
    PspLookup,
    SettlementUnavailable,
    balance_of,
    dispute_of,
    looked_up,
    outcome_of_charge,
    outcome_of_payout,
    outcome_of_refund,
    problem_title,
    send,
)
from payments.psp.http import PspHttp, PspResponse, PspTransportError


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    amount_minor: int
    currency: str
    token: str
    reference: str
    idempotency_key: str


SETTLEMENT_TIMEOUT_S = 60.0  # a day's file can be large
_Classifier = Callable[[dict[str, Any]], PspAnswer]


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    amount_minor: int
    currency: str
    destination: str
    reference: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class RefundRequest:
    charge: str  # the PSP's id of the captured charge
    amount_minor: int
    reason: str | None
    reference: str
    idempotency_key: str


def _money_body(request: ChargeRequest | PayoutRequest, **fields: str) -> dict[str, Any]:
    """A charge's or a payout's body: its amount, currency, `fields` and our reference."""
    return {
        "amount": request.amount_minor,
        "currency": request.currency,
        **fields,
        "reference": request.reference,
    }


class PspClient(Protocol):
    def create_charge(self, request: ChargeRequest) -> CallAnswer:
        """The PSP's answer; a 4xx is Rejected, final only after a look-up (confirm_rejection)."""
        ...

    def find_charge(self, reference: str) -> LookupAnswer: ...

    def create_payout(self, request: PayoutRequest) -> CallAnswer: ...

    def find_payout(self, reference: str) -> LookupAnswer: ...

    def create_refund(self, request: RefundRequest) -> CallAnswer: ...

    def find_refund(self, reference: str) -> LookupAnswer: ...

    def payout_state(self, reference: str) -> PayoutState | NotFoundAtPsp | Retryable:
        """The payout's raw status (a webhook says paid, failed or returned: which is it?)."""
        ...

    def fetch_settlement(self, day: date, out: BinaryIO) -> str:
        """Stream the day's settlement file into `out`; its SHA-256 (SettlementUnavailable
        when the PSP does not hand it over)."""
        ...

    def balance(self) -> PspBalance:
        """Our balance at the PSP per currency (BalanceUnavailable when it does not answer)."""
        ...

    def close(self) -> None: ...


class HttpPspClient:
    """Talks to the sandbox or a PSP with the same API over HTTP (thread-safe)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        max_connections: int = 64,
        api_key: str | None = None,
    ):
        self._http = PspHttp(
            base_url, timeout_s=timeout_s, max_connections=max_connections, api_key=api_key
        )

    def create_charge(self, request: ChargeRequest) -> CallAnswer:
        body = _money_body(request, token=request.token)
        return self._create("/v1/charges", body, request.idempotency_key, outcome_of_charge)

    def find_charge(self, reference: str) -> LookupAnswer:
        return self._find("/v1/charges", reference, {"succeeded", "failed"}, outcome_of_charge)

    def create_payout(self, request: PayoutRequest) -> CallAnswer:
        body = _money_body(request, destination=request.destination)
        return self._create("/v1/payouts", body, request.idempotency_key, outcome_of_payout)

    def find_payout(self, reference: str) -> LookupAnswer:
        return self._find("/v1/payouts", reference, PAYOUT_FINALS, outcome_of_payout)

    def create_refund(self, request: RefundRequest) -> CallAnswer:
        body: dict[str, Any] = {
            "charge": request.charge,
            "amount": request.amount_minor,
            "reference": request.reference,
        }
        if request.reason:
            body["reason"] = request.reason
        return self._create("/v1/refunds", body, request.idempotency_key, outcome_of_refund)

    def find_refund(self, reference: str) -> LookupAnswer:
        return self._find("/v1/refunds", reference, REFUND_FINALS, outcome_of_refund)

    def payout_state(self, reference: str) -> PayoutState | NotFoundAtPsp | Retryable:
        found = self._lookup("/v1/payouts", reference, PAYOUT_FINALS)
        if isinstance(found, NotFoundAtPsp | Retryable):
            return found
        return PayoutState(
            status=str(found.get("status")),
            psp_reference=str(found.get("id", "")),
            failure_code=str(found.get("failure_code") or ""),
        )

    def look_up_charge(self, reference: str) -> PspLookup:
        """find_charge with the charge's amount and currency (reconciliation confirms a
        settled line with them before it records anything)."""
        found = self._lookup("/v1/charges", reference, {"succeeded", "failed"})
        if isinstance(found, NotFoundAtPsp | Retryable):
            return PspLookup(found)
        amount, currency = found.get("amount"), found.get("currency")
        return PspLookup(
            outcome_of_charge(found),
            amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            str(currency).upper() if isinstance(currency, str) else None,
        )

    def fetch_settlement(self, day: date, out: BinaryIO) -> str:
        path = f"/v1/settlements/{day.isoformat()}.csv"
        digest = hashlib.sha256()
        try:
            with self._http.stream(path, timeout_s=SETTLEMENT_TIMEOUT_S) as response:
                if response.status_code != 200:
                    raise SettlementUnavailable(f"GET {path} answered {response.status_code}")
                for block in response.blocks(1 << 20):
                    digest.update(block)
                    out.write(block)
        except PspTransportError as error:
            raise SettlementUnavailable(f"GET {path} failed: {error}") from None
        return digest.hexdigest()

    def balance(self) -> PspBalance:
        try:
            response = self._http.request("GET", "/v1/balance")
        except PspTransportError as error:
            raise BalanceUnavailable(f"GET /v1/balance failed: {error}") from None
        if response.status_code != 200:
            raise BalanceUnavailable(f"GET /v1/balance answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise BalanceUnavailable("GET /v1/balance answered a body that is not JSON") from None
        return balance_of(body)

    def _send(self, doing: str, method: str, path: str, **options: Any) -> PspResponse | Retryable:
        return send(self._http, doing, method, path, **options)

    def _create(
        self, path: str, body: dict[str, Any], key: str, classify: _Classifier
    ) -> CallAnswer:
        response = self._send("calling", "POST", path, json=body, headers={"Idempotency-Key": key})
        return response if isinstance(response, Retryable) else self._classify(response, classify)

    def _find(
        self, path: str, reference: str, finals: set[str], classify: _Classifier
    ) -> LookupAnswer:
        """The PSP's answer for our reference, classified (nothing there, or a failed look-up,
        as they are)."""
        found = self._lookup(path, reference, finals)
        return found if isinstance(found, NotFoundAtPsp | Retryable) else classify(found)

    def _lookup(
        self, path: str, reference: str, finals: set[str]
    ) -> dict[str, Any] | NotFoundAtPsp | Retryable:
        """The PSP's object for our reference (the final one if there were several)."""
        sent = self._send("re-querying", "GET", path, params={"reference": reference})
        response = looked_up(sent, "a lookup")
        if not isinstance(response, PspResponse):
            return response
        try:
            found = response.json().get("data", [])
        except (ValueError, AttributeError):
            return Retryable("PSP answered a lookup with a body we cannot read")
        if not found:
            return NotFoundAtPsp()
        # One key per order or payout means one object; if there were more, the final decides.
        final = [item for item in found if item.get("status") in finals]
        chosen: dict[str, Any] = (final or found)[-1]
        return chosen

    def _classify(self, response: PspResponse, classify: _Classifier) -> CallAnswer:
        status = response.status_code
        if status in (200, 201, 202, 402):
            try:
                return classify(response.json())
            except ValueError:
                return Retryable(f"PSP answered {status} with a body that is not JSON")
        if status in (409, 429) or status >= 500:
            return Retryable(f"PSP answered {status}")
        if status in (400, 404, 422):
            title = problem_title(response)
            code = FailureCode.INVALID_TOKEN if "token" in title.lower() else FailureCode.REJECTED
            return Rejected(code, f"PSP refused the request ({status}): {title}"[:200])
        return Retryable(f"PSP answered unexpected {status}")

    # --- disputes: look-ups and evidence (the PSP decides; we record what it shows) -----

    def find_dispute(self, psp_dispute_id: str) -> PspDispute | NotFoundAtPsp | Retryable:
        """The PSP's dispute by its id (GET /v1/disputes/{id})."""
        if PSP_ID.fullmatch(psp_dispute_id) is None:
            return NotFoundAtPsp()  # no id the PSP gives: nothing to ask for
        answer = self._get_json(f"/v1/disputes/{quote(psp_dispute_id, safe='')}", {})
        return answer if isinstance(answer, NotFoundAtPsp | Retryable) else dispute_of(answer)

    def disputes_of_charge(self, charge_id: str) -> list[PspDispute] | Retryable:
        """Every dispute the PSP holds on one of its charges (GET /v1/disputes?charge=)."""
        if PSP_ID.fullmatch(charge_id) is None:
            return []
        answer = self._get_json("/v1/disputes", {"charge": charge_id})
        if isinstance(answer, Retryable):
            return answer
        if isinstance(answer, NotFoundAtPsp):
            return []
        found = answer.get("data")
        if not isinstance(found, list):
            return Retryable("PSP answered a dispute look-up with a body we cannot read")
        disputes = [dispute_of(item) for item in found if isinstance(item, dict)]
        return [d for d in disputes if isinstance(d, PspDispute)]

    def submit_evidence(
        self, psp_dispute_id: str, text: str
    ) -> PspDispute | EvidenceRefused | NotFoundAtPsp | Retryable:
        """Forward evidence (POST /v1/disputes/{id}/evidence): the dispute as the PSP then
        holds it, or the PSP's refusal (too late, not awaiting evidence, a text it refuses)."""
        if PSP_ID.fullmatch(psp_dispute_id) is None:
            return NotFoundAtPsp()
        path = f"/v1/disputes/{quote(psp_dispute_id, safe='')}/evidence"
        response = self._send("sending evidence to", "POST", path, json={"text": text})
        if isinstance(response, Retryable):
            return response
        if response.status_code == 404:
            return NotFoundAtPsp()
        if response.status_code in (409, 422):
            return EvidenceRefused(response.status_code, problem_title(response))
        if response.status_code != 200:
            return Retryable(f"PSP answered {response.status_code} to evidence")
        try:
            return dispute_of(response.json())
        except ValueError:
            return Retryable("PSP answered evidence with a body that is not JSON")

    def _get_json(
        self, path: str, params: dict[str, str]
    ) -> dict[str, Any] | NotFoundAtPsp | Retryable:
        response = looked_up(self._send("re-querying", "GET", path, params=params))
        if not isinstance(response, PspResponse):
            return response
        try:
            body = response.json()
        except ValueError:
            return Retryable("PSP answered a look-up with a body that is not JSON")
        return body if isinstance(body, dict) else Retryable("PSP answered a look-up oddly")

    def close(self) -> None:
        self._http.close()
