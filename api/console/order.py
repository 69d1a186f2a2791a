"""One order: what the JSON API answers for it, its timeline (every event, its fields, the
ledger postings it caused, which are also its wallet effects), its refunds, its dispute, and
the actions its state allows (refund, replay a dead letter, answer the dispute with
evidence), each confirmed; as of a past instant, the same replayed from the events recorded
by then, with the actions and the dispute withheld."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.response import Redirect, Template

from payments.api.as_of import read_order_as_of
from payments.api.console.forms import FormBody, as_json_body, confirmed
from payments.api.console.orders import PAGE, order_path
from payments.api.console.pages import (
    CallerDep,
    Field,
    ServicesDep,
    as_of_of,
    console_access,
    may,
    render,
)
from payments.api.console.risk_reviews import PAGE as REVIEWS
from payments.api.dispute_reads import order_dispute
from payments.api.dispute_schemas import DisputeEvidenceRequest, DisputeResponse
from payments.api.parameters import PaymentOrderIdPath
from payments.api.reads import read_order
from payments.api.refund_schemas import RefundRequestBody
from payments.api.routes.dead_letters import ReplayRequest, replay
from payments.api.routes.disputes import send_evidence
from payments.api.routes.refunds import amount_minor_of, request_refund
from payments.domain.api_key import Role
from payments.domain.dispute import DisputeStatus
from payments.domain.money import Money
from payments.domain.refund_commands import RequestRefund, refund_id_for_key
from payments.projections.audit.order_history import HistoryEntry, order_history
from payments.projections.followers.execution_queue import CHARGE
from payments.runtime.services import Services

HISTORY = (Role.OPERATOR, Role.FINANCE)  # GET /payments/{id}/history
REFUND = (Role.MERCHANT,)  # POST /payments/{id}/refunds
REPLAY = (Role.OPERATOR,)  # POST /dead-letters/{id}/replay
EVIDENCE = (Role.MERCHANT,)  # POST /payments/{id}/dispute/evidence
DEFAULT_REASON = "replayed from the console"
DONE = {
    "refund": "Refund requested: the executor refunds it at the PSP.",
    "replay": "Dead letter replayed: the executor tries the order again.",
    "evidence": "Evidence sent: the PSP took it and reviews the dispute; its decision comes "
    "by webhook.",
}


class RefundForm(msgspec.Struct, frozen=True):
    form_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
    amount: str = ""
    reason: str = ""
    confirm: str = ""


class ReplayForm(msgspec.Struct, frozen=True):
    confirm: str = ""
    reason: str = ""


class EvidenceForm(msgspec.Struct, frozen=True):
    text: str = ""
    confirm: str = ""


def awaits_evidence(dispute: DisputeResponse | None) -> bool:
    """Whether the PSP still takes evidence for the dispute: it needs a response, in time."""
    return (
        dispute is not None
        and dispute.status == DisputeStatus.NEEDS_RESPONSE.value
        and datetime.now(UTC) < dispute.evidence_due_by
    )


def timeline(
    services: Services, payment_order_id: str, as_of: datetime | None
) -> list[dict[str, Any]]:
    entries: list[HistoryEntry] = (
        order_history(services.pool, services.application, payment_order_id) or []
    )
    currency = services.settings.currency
    return [
        {
            "entry": e,
            "postings": [
                (
                    p.account,
                    Money(p.debit_minor, currency).format(),
                    Money(p.credit_minor, currency).format(),
                )
                for p in e.postings
            ],
        }
        for e in entries
        if as_of is None or e.recorded_at <= as_of
    ]


@get("/orders/{payment_order_id:str}", sync_to_thread=True, **PAGE.access)
def order_page(
    payment_order_id: PaymentOrderIdPath,
    caller: CallerDep,
    services: ServicesDep,
    as_of: Field = None,
    done: Field = None,
) -> Template:
    instant = as_of_of(as_of)
    if instant is None:
        answer = read_order(services, payment_order_id, None)
    else:
        answer = read_order_as_of(services, payment_order_id, instant)
    events = timeline(services, payment_order_id, instant) if may(caller, *HISTORY) else None
    now = instant is None
    held = now and answer.held_for_review
    refundable = answer.refundable not in (None, "0", "0.00") and answer.status == "SUCCESS"
    dispute = order_dispute(services.application, payment_order_id) if now else None
    return render(
        "order.html",
        caller,
        PAGE,
        as_of=instant,
        title=f"Order {payment_order_id}",
        order=answer,
        events=events,
        wallet=[
            (e["entry"], account, debit, credit)
            for e in events or []
            for account, debit, credit in e["postings"]
            if account.startswith("seller:")
        ],
        done=DONE.get(done or ""),
        offer_refund=now and may(caller, *REFUND) and refundable,
        offer_replay=now and may(caller, *REPLAY) and answer.dead_lettered,
        dispute=dispute,
        offer_evidence=may(caller, *EVIDENCE) and awaits_evidence(dispute),
        review_queue=REVIEWS.path if held and REVIEWS.offered_to(caller) else None,
        form_id=uuid.uuid4().hex,
    )


@post("/orders/{payment_order_id:str}/refund", sync_to_thread=True, **console_access(*REFUND))
def refund(
    payment_order_id: PaymentOrderIdPath,
    data: FormBody[RefundForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    confirmed(data.confirm, "the refund")
    body = as_json_body(  # the JSON route's body rules, field by field
        RefundRequestBody,
        "refund",
        amount=data.amount.strip() or None,
        reason=data.reason.strip() or None,
    )
    # One refund per rendered form: sending it twice finds the same refund.
    command = RequestRefund(
        refund_id=refund_id_for_key(f"{caller.key_id} console {data.form_id}"),
        payment_order_id=payment_order_id,
        amount_minor=amount_minor_of(body.amount, services.settings.currency),
        reason=body.reason,
        requested_by=caller.key_id,
    )
    request_refund(services, command)
    return Redirect(f"{order_path(payment_order_id)}?done=refund", status_code=303)


@post("/orders/{payment_order_id:str}/replay", sync_to_thread=True, **console_access(*REPLAY))
def replay_dead_letter(
    payment_order_id: PaymentOrderIdPath,
    data: FormBody[ReplayForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    confirmed(data.confirm, "the replay")
    reason = as_json_body(ReplayRequest, "reason", reason=data.reason.strip() or DEFAULT_REASON)
    replay(services, CHARGE, [payment_order_id], reason.reason, caller.key_id)
    return Redirect(f"{order_path(payment_order_id)}?done=replay", status_code=303)


@post(
    "/orders/{payment_order_id:str}/dispute/evidence",
    sync_to_thread=True,
    **console_access(*EVIDENCE),
)
def answer_dispute(
    payment_order_id: PaymentOrderIdPath,
    data: FormBody[EvidenceForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    confirmed(data.confirm, "the evidence")
    body = as_json_body(DisputeEvidenceRequest, "text", text=data.text.strip())
    send_evidence(services, payment_order_id, body.text, caller)
    return Redirect(f"{order_path(payment_order_id)}?done=evidence#h-dispute", status_code=303)


HANDLERS = [order_page, refund, replay_dead_letter, answer_dispute]
