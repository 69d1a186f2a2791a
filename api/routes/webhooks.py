"""POST /webhooks/psp: signed outcomes from the PSP, verified before anything is recorded."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.concurrency import sync_to_thread
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import HeaderParameter

from payments.api.auth import PUBLIC
from payments.api.openapi import operation, raw_body
from payments.api.parameters import ServicesDep
from payments.api.problems import FieldProblem, ProblemError, problem_specs
from payments.domain.errors import IllegalTransition, NotFound
from payments.domain.execution import PspExecution, Retryable, Succeeded, SucceedsOrFails
from payments.domain.ids import payment_order_uuid
from payments.domain.payment_order import PaymentOrder
from payments.psp.dispute_sync import sync_dispute
from payments.psp.onboarding import confirm_account_event
from payments.psp.signing import MalformedSignatureError, SignatureError, verify_signature
from payments.psp.webhooks import (
    AccountNotice,
    ChargeNotice,
    DisputeNotice,
    IgnoredNotice,
    LookupFailed,
    Notice,
    OutcomeNotice,
    RefundNotice,
    Unconfirmed,
    WebhookMalformed,
    confirm,
    read_event,
)
from payments.runtime import kyc
from payments.runtime.services import Services

log = logging.getLogger("payments.webhooks")
MAX_WEBHOOK_BYTES = 64 * 1024
MAX_SIGNATURE_LENGTH = 1024


class WebhookAck(msgspec.Struct, frozen=True):
    received: bool
    outcome: str


_EVENT_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    description="The PSP's event envelope, read only after its signature checks.",
    properties={
        "id": Schema(type=OpenAPIType.STRING),
        "type": Schema(type=OpenAPIType.STRING, examples=["charge.succeeded"]),
        "data": Schema(type=OpenAPIType.OBJECT),
    },
    required=["id", "type", "data"],
)
# t=<seconds> first, then one or more v<n>= signatures, at least one of them v1 (the reader
# takes the parts in any order; this is the form the PSP sends).
_SIGNED = r"v[0-9]{1,3}=[0-9a-f]{1,128}"
_SIGNATURE_PATTERN = rf"^t=[0-9]{{1,12}}(,{_SIGNED})*,v1=[0-9a-f]{{1,128}}(,{_SIGNED})*$"
SignatureHeader = Annotated[
    str,
    HeaderParameter(
        name="PSP-Signature",
        max_length=MAX_SIGNATURE_LENGTH,
        pattern=_SIGNATURE_PATTERN,
        description="t=<unix seconds>,v1=<hex HMAC-SHA256 of '{t}.{body}'>. Missing or "
        "malformed: 400; stale or wrong: 401.",
    ),
]


async def _signature_present(request: Request[Any, Any, Any]) -> None:
    """A missing or malformed signature header is a 400 naming it (before Litestar's own
    parameter validation, which would answer 422)."""
    header = request.headers.get("psp-signature")
    if not header:
        raise _signature_problem(400, "missing PSP-Signature header")
    if len(header) > MAX_SIGNATURE_LENGTH or re.fullmatch(_SIGNATURE_PATTERN, header) is None:
        raise _signature_problem(400, "PSP-Signature must be t=<unix seconds>,v1=<hex>[,...]")


class WebhooksController(Controller):
    tags = ["webhooks"]

    @post(
        "/webhooks/psp",
        operation_id="receivePspEvent",
        summary="Signed PSP event (charge, payout or refund outcome)",
        description="Header PSP-Signature: t=<unix>,v1=<hex HMAC-SHA256 of '{t}.{body}'>. "
        "Stale (>300 s) or forged → 400/401 and nothing recorded. Duplicates change nothing.",
        status_code=200,
        request_max_body_size=MAX_WEBHOOK_BYTES,
        before_request=_signature_present,
        responses=problem_specs(401, 409, 413, 422, 503, authenticated=False),
        operation_class=operation(
            request_body=raw_body(("application/json",), "The event, as signed", _EVENT_SCHEMA)
        ),
        **PUBLIC,
    )
    async def receive_psp_event(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        psp_signature: SignatureHeader,
    ) -> WebhookAck:
        body = await request.body()
        secret = services.settings.webhook_secret
        if secret is None:
            raise ProblemError(
                503,
                "webhooks-not-configured",
                "Webhooks are not accepted here",
                "this process has no webhook secret (PAYMENTS_WEBHOOK_SECRET)",
            )
        header = psp_signature
        if not header:
            raise _signature_problem(400, "missing PSP-Signature header")
        try:
            verify_signature(secret, header, body, now=int(time.time()))
        except MalformedSignatureError as error:
            raise _signature_problem(400, str(error)) from None
        except SignatureError as error:
            raise _signature_problem(401, str(error)) from None
        try:
            notice = read_event(body)
        except WebhookMalformed as error:
            raise ProblemError(
                400, "webhook-malformed", "Webhook body not understood", str(error)
            ) from None
        outcome = await sync_to_thread(_record, services, notice)
        return WebhookAck(received=True, outcome=outcome)


def _record(services: Services, notice: Notice) -> str:
    """Record what the PSP confirms about our order or payout; what happened, for the PSP.

    The webhook is a hint: its claim is checked by a look-up at the PSP by our reference,
    and the look-up's answer is what gets recorded (DESIGN §11)."""
    if isinstance(notice, IgnoredNotice):
        return f"ignored: {notice.why}"
    if isinstance(notice, DisputeNotice):
        return _record_dispute(services, notice)
    if isinstance(notice, AccountNotice):
        return _record_account(services, notice)
    known = _known(services, notice)
    if known is None:
        log.warning("webhook for an unknown reference", extra={"event_id": notice.event_id})
        return "ignored: unknown reference"
    if (
        isinstance(notice, ChargeNotice | RefundNotice)
        and isinstance(known, SucceedsOrFails)
        and known.holds(notice.answer)
    ):  # a repeat of what a confirmed answer recorded: nothing to confirm
        log.info(
            "webhook recorded",
            extra={"event_id": notice.event_id, "type": notice.event_type, "changed": False},
        )
        return "no change"
    client = services.psp_client
    if client is None:
        raise _no_psp()
    checked = confirm(notice, client)
    if isinstance(checked, LookupFailed):
        raise _psp_later(f"the look-up failed ({checked.why})")
    if isinstance(checked, Unconfirmed):
        log.warning(
            "webhook not confirmed by the PSP: nothing recorded",
            extra={"event_id": notice.event_id, "type": notice.event_type, "why": checked.why},
        )
        return f"ignored: not confirmed: {checked.why}"
    notice = checked.notice
    if isinstance(notice, RefundNotice):
        refund_id, confirmed = notice.refund_id, notice.answer
        return _settle(
            notice,
            "refund",
            lambda: services.refunds.record_answer(refund_id, confirmed, source="webhook"),
        )
    if isinstance(notice, ChargeNotice):
        answer = notice.answer
        order_id = notice.payment_order_id
        if isinstance(answer, Succeeded):
            return _settle(
                notice,
                "order",
                lambda: services.orders.record_success(
                    order_id, answer.psp_reference, source="webhook"
                ),
            )
        return _settle(
            notice,
            "order",
            lambda: services.orders.record_failure(
                order_id, answer.code, answer.reason, answer.psp_reference, source="webhook"
            ),
        )
    commands, payout_id, reference = services.payouts, notice.payout_id, notice.psp_reference
    record: dict[str, Callable[[], bool]] = {
        "paid": lambda: commands.record_paid(payout_id, reference, source="webhook"),
        "failed": lambda: commands.record_failure(
            payout_id, notice.reason, reference, source="webhook"
        ),
        "returned": lambda: commands.record_returned(payout_id, reference, source="webhook"),
    }
    return _settle(notice, "payout", record[notice.outcome])


def _record_dispute(services: Services, notice: DisputeNotice) -> str:
    """A dispute event names a dispute; the PSP's look-up of it is what gets recorded, so a
    forged, stale, repeated or reordered event records nothing beyond the PSP's truth."""
    client = services.psp_client
    if client is None:
        raise _no_psp()
    synced = sync_dispute(notice.psp_dispute_id, client, services.disputes)
    if synced.retry_status == 503:
        raise _psp_later(synced.outcome)
    if synced.retry_status == 409:
        raise ProblemError(409, "webhook-too-early", "Order not captured yet", synced.outcome)
    log.info(
        "dispute webhook",
        extra={"event_id": notice.event_id, "type": notice.event_type, "outcome": synced.outcome},
    )
    return synced.outcome


def _record_account(services: Services, notice: AccountNotice) -> str:
    """account.updated: the seller's KYC as the PSP's look-up of the account shows it."""
    if not services.psp_url:
        raise _no_psp()
    client = kyc.onboarding_client(services)
    try:
        said = confirm_account_event(
            services.sellers, client, notice.psp_account_id, notice.seller_account
        )
    finally:
        client.close()
    if isinstance(said, Retryable):
        raise _psp_later(f"the look-up failed ({said.error})")
    log.info("account webhook", extra={"event_id": notice.event_id, "outcome": said})
    return said


def _known(services: Services, notice: OutcomeNotice) -> PspExecution | None:
    """The order, payout or refund of ours the notice names (no look-up for strangers)."""
    if isinstance(notice, RefundNotice):
        return services.refunds.find(notice.refund_id)
    if isinstance(notice, ChargeNotice):
        return services.application.find(PaymentOrder, payment_order_uuid(notice.payment_order_id))
    return services.application.find_payout(notice.payout_id)


def _settle(notice: OutcomeNotice, noun: str, record: Callable[[], bool]) -> str:
    """Run the command the event calls for; unknown references are acknowledged and ignored."""
    try:
        changed = record()
    except NotFound:
        log.warning(f"webhook for an unknown {noun}", extra={"event_id": notice.event_id})
        return "ignored: unknown reference"
    except IllegalTransition as error:
        # Too early (not executing yet, or returned before paid is recorded): the PSP retries.
        title = {
            "order": "Order not executing yet",
            "refund": "Refund not executing yet",
        }.get(noun, "Payout not ready for this outcome")
        raise ProblemError(409, "webhook-too-early", title, str(error)) from None
    log.info(
        "webhook recorded",
        extra={"event_id": notice.event_id, "type": notice.event_type, "changed": changed},
    )
    return "recorded" if changed else "no change"


def _no_psp() -> ProblemError:
    return ProblemError(
        503, "psp-unavailable", "Cannot confirm with the PSP", "no PSP is configured here"
    )


def _psp_later(why: str) -> ProblemError:
    """The PSP's look-up failed: a 503 that asks the PSP to send the event again."""
    return ProblemError(
        503,
        "psp-unavailable",
        "Cannot confirm with the PSP now",
        f"{why}; send the event again later",
        headers={"Retry-After": "30"},
    )


def _signature_problem(status: int, detail: str) -> ProblemError:
    return ProblemError(
        status,
        "webhook-signature",
        "Webhook signature refused",
        detail,
        errors=[FieldProblem(field="header.PSP-Signature", message=detail)],
    )
