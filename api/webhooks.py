"""POST /webhooks/psp: signed outcomes from the PSP, verified before anything is recorded."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.concurrency import sync_to_thread
from litestar.di import NamedDependency

from payments.api.problems import FieldProblem, ProblemError, problem_specs
from payments.domain.errors import IllegalTransition, NotFound
from payments.domain.execution import Declined, Succeeded
from payments.psp.client import outcome_of_charge
from payments.psp.signing import MalformedSignatureError, SignatureError, verify_signature
from payments.runtime.services import Services

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
    charge = _data_object(envelope, "charge")
    reference = charge["reference"]
    outcome = outcome_of_charge(charge)
    if isinstance(outcome, Succeeded):
        return _settle(
            envelope,
            "order",
            lambda: services.orders.record_success(
                reference, outcome.psp_reference, source="webhook"
            ),
        )
    if isinstance(outcome, Declined):
        return _settle(
            envelope,
            "order",
            lambda: services.orders.record_failure(
                reference, outcome.code, outcome.reason, outcome.psp_reference, source="webhook"
            ),
        )
    return "ignored: not a final outcome"


def _record_payout(services: Services, envelope: WebhookEnvelope) -> str:
    """payout.paid / payout.failed / payout.returned about one of our payouts."""
    payout = _data_object(envelope, "payout")
    payout_id, psp_reference = payout["reference"], str(payout.get("id", ""))
    commands = services.payouts
    if envelope.type == "payout.paid":
        return _settle(
            envelope,
            "payout",
            lambda: commands.record_paid(payout_id, psp_reference, source="webhook"),
        )
    if envelope.type == "payout.failed":
        reason = str(payout.get("failure_code") or "failed")
        return _settle(
            envelope,
            "payout",
            lambda: commands.record_failure(payout_id, reason, psp_reference, source="webhook"),
        )
    if envelope.type == "payout.returned":
        return _settle(
            envelope,
            "payout",
            lambda: commands.record_returned(payout_id, psp_reference, source="webhook"),
        )
    return "ignored: not a final payout outcome"


def _data_object(envelope: WebhookEnvelope, noun: str) -> dict[str, Any]:
    """The event's data.object, which must name our reference."""
    found = envelope.data.get("object")
    if not isinstance(found, dict) or not isinstance(found.get("reference"), str):
        raise ProblemError(400, "webhook-malformed", "Webhook body not understood", f"no {noun}")
    return found


def _settle(envelope: WebhookEnvelope, noun: str, record: Callable[[], bool]) -> str:
    """Run the command the event calls for; unknown references are acknowledged and ignored."""
    try:
        changed = record()
    except NotFound:
        log.warning(f"webhook for an unknown {noun}", extra={"event_id": envelope.id})
        return "ignored: unknown reference"
    except IllegalTransition as error:
        # Too early (not executing yet, or returned before paid is recorded): the PSP retries.
        title = (
            "Order not executing yet" if noun == "order" else "Payout not ready for this outcome"
        )
        raise ProblemError(409, "webhook-too-early", title, str(error)) from None
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
