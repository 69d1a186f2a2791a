"""POST /webhooks/psp: signed outcomes from the PSP, verified before anything is recorded."""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency

from api.problems import FieldProblem, ProblemError, problem_specs
from api.services import Services
from domain.errors import IllegalTransition, NotFound
from psp.client import Declined, Succeeded, outcome_of_charge
from psp.signing import MalformedSignatureError, SignatureError, verify_signature

log = logging.getLogger("payments.webhooks")
MAX_WEBHOOK_BYTES = 64 * 1024


class WebhookAck(msgspec.Struct, frozen=True):
    received: bool
    outcome: str


class WebhookEnvelope(msgspec.Struct, frozen=True):
    id: str
    type: str
    data: dict[str, Any]
    created: int | None = None


class WebhooksController(Controller):
    tags = ["webhooks"]

    @post(
        "/webhooks/psp",
        summary="Signed PSP event (charge outcome)",
        description="Header PSP-Signature: t=<unix>,v1=<hex HMAC-SHA256 of '{t}.{body}'>. "
        "Stale (>300 s) or forged → 400/401 and nothing recorded. Duplicates change nothing.",
        status_code=200,
        request_max_body_size=MAX_WEBHOOK_BYTES,
        responses=problem_specs(400, 401, 409),
    )
    async def receive_psp_event(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services]
    ) -> WebhookAck:
        body = await request.body()
        header = request.headers.get("psp-signature")
        if not header:
            raise _signature_problem(400, "missing PSP-Signature header")
        try:
            verify_signature(services.settings.webhook_secret, header, body, now=int(time.time()))
        except MalformedSignatureError as error:
            raise _signature_problem(400, str(error)) from None
        except SignatureError as error:
            raise _signature_problem(401, str(error)) from None
        try:
            envelope = msgspec.json.decode(body, type=WebhookEnvelope)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as error:
            raise ProblemError(
                400, "webhook-malformed", "Webhook body not understood", str(error)[:200]
            ) from None
        outcome = await sync_to_thread(_record, services, envelope)
        return WebhookAck(received=True, outcome=outcome)


def _record(services: Services, envelope: WebhookEnvelope) -> str:
    """Record what the event says about our order; returns what happened, for the PSP's log."""
    if envelope.type.startswith("payout."):
        return _record_payout(services, envelope)
    if not envelope.type.startswith("charge."):
        return "ignored: not a charge event"
    charge = envelope.data.get("object")
    if not isinstance(charge, dict) or not isinstance(charge.get("reference"), str):
        raise ProblemError(400, "webhook-malformed", "Webhook body not understood", "no charge")
    reference = charge["reference"]
    outcome = outcome_of_charge(charge)
    try:
        if isinstance(outcome, Succeeded):
            changed = services.orders.record_success(
                reference, outcome.psp_reference, source="webhook"
            )
        elif isinstance(outcome, Declined):
            changed = services.orders.record_failure(
                reference, outcome.code, outcome.reason, outcome.psp_reference, source="webhook"
            )
        else:
            return "ignored: not a final outcome"
    except NotFound:
        log.warning("webhook for an unknown order", extra={"event_id": envelope.id})
        return "ignored: unknown reference"
    except IllegalTransition as error:
        raise ProblemError(
            409, "webhook-too-early", "Order not executing yet", str(error)
        ) from None
    log.info(
        "webhook recorded",
        extra={"event_id": envelope.id, "type": envelope.type, "changed": changed},
    )
    return "recorded" if changed else "no change"


def _record_payout(services: Services, envelope: WebhookEnvelope) -> str:
    """payout.paid / payout.failed / payout.returned about one of our payouts."""
    payout = envelope.data.get("object")
    if not isinstance(payout, dict) or not isinstance(payout.get("reference"), str):
        raise ProblemError(400, "webhook-malformed", "Webhook body not understood", "no payout")
    payout_id, psp_reference = payout["reference"], str(payout.get("id", ""))
    commands = services.payouts
    try:
        if envelope.type == "payout.paid":
            changed = commands.record_paid(payout_id, psp_reference, source="webhook")
        elif envelope.type == "payout.failed":
            reason = str(payout.get("failure_code") or "failed")
            changed = commands.record_failure(payout_id, reason, psp_reference, source="webhook")
        elif envelope.type == "payout.returned":
            changed = commands.record_returned(payout_id, psp_reference, source="webhook")
        else:
            return "ignored: not a final payout outcome"
    except NotFound:
        log.warning("webhook for an unknown payout", extra={"event_id": envelope.id})
        return "ignored: unknown reference"
    except IllegalTransition as error:
        # Too early (not executing yet, or returned before paid is recorded): the PSP retries.
        raise ProblemError(
            409, "webhook-too-early", "Payout not ready for this outcome", str(error)
        ) from None
    log.info(
        "webhook recorded",
        extra={"event_id": envelope.id, "type": envelope.type, "changed": changed},
    )
    return "recorded" if changed else "no change"


def _signature_problem(status: int, detail: str) -> ProblemError:
    return ProblemError(
        status,
        "webhook-signature",
        "Webhook signature refused",
        detail,
        errors=[FieldProblem(field="header.PSP-Signature", message=detail)],
    )
