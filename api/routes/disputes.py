"""GET /disputes, GET /payments/{payment_order_id}/dispute and POST .../dispute/evidence
(ADR 0014).

The PSP decides a dispute; we show what it confirmed and forward the merchant's evidence to
it before the deadline. Evidence is recorded only once the PSP accepted it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import JSONBody

from payments.api.auth import access
from payments.api.card_guard import guard_keyed_body
from payments.api.dispute_reads import dispute_response, list_disputes
from payments.api.dispute_schemas import DisputeEvidenceRequest, DisputePage, DisputeResponse
from payments.api.idempotency import OnceDep, fingerprint, stored_answer
from payments.api.openapi import operation, spec, success, write_headers
from payments.api.parameters import (
    CallerDep,
    CursorQuery,
    DisputeStatusQuery,
    IdQuery,
    InstantQuery,
    LimitQuery,
    PaymentOrderIdPath,
    ServicesDep,
    one_of,
)
from payments.api.problems import ProblemError
from payments.api.reads import FreshDep, parse_instant
from payments.domain.api_key import Role
from payments.domain.dispute import Dispute, DisputeClosed, EvidenceTooLate
from payments.projections.views.disputes import DisputeFilter, DisputeOrder
from payments.psp.dispute_sync import EvidenceNotAccepted, submit_evidence
from payments.runtime.idempotency import StoredResponse
from payments.runtime.keys import Caller
from payments.runtime.services import Services

EVIDENCE_SCOPE = "POST /payments/{id}/dispute/evidence"
MAX_BODY_BYTES = 32 * 1024  # 4000 characters, even \u-escaped, fit
OrderQuery = Annotated[
    str,
    one_of(
        DisputeOrder,
        "newest: the dispute opened last first; due: the soonest evidence deadline first.",
    ),
]
LIST_DESCRIPTION = (
    "Found in the disputes view, each item read from the dispute's own events (as GET "
    "/payments/{id}/dispute answers it). Filters: status, seller_account, payment_order_id, "
    "due_before (evidence due strictly before this RFC 3339 instant). Order: newest (default) "
    "or due. Keyset pagination: limit (1-200, default 50) and the opaque cursor from "
    "next_cursor, with the same order. The view follows the log within moments; pass the "
    "position a command answered with as ?min_position= to wait for it. A seller key lists "
    "its own seller's disputes (another seller_account: 404)."
)


def send_evidence(
    services: Services, payment_order_id: str, text: str, caller: Caller
) -> tuple[Dispute, int | None]:
    """Forward the evidence to the PSP and record it once the PSP took it (the JSON route and
    the console's order page): the dispute after it and the write's position (None: recorded
    before). Every refusal is a problem: 404, 409 (closed, too late), the PSP's status, 503."""
    client = services.psp_client
    if client is None:
        raise ProblemError(
            503, "psp-unavailable", "Cannot reach the PSP", "no PSP is configured here"
        )
    now = datetime.now(UTC)
    try:
        return submit_evidence(
            payment_order_id, text, caller.key_id, now, client, services.disputes
        )
    except DisputeClosed as error:
        raise ProblemError(409, "dispute-closed", "Dispute takes no evidence", str(error)) from None
    except EvidenceTooLate as error:
        raise ProblemError(409, "evidence-too-late", "Evidence too late", str(error)) from None
    except EvidenceNotAccepted as error:
        headers = {"Retry-After": "30"} if error.status == 503 else None
        raise ProblemError(
            error.status, "evidence-not-accepted", "The PSP did not take the evidence", str(error),
            headers=headers,
        ) from None  # fmt: skip


def _evidence(
    services: Services, payment_order_id: str, text: str, caller: Caller
) -> StoredResponse:
    dispute, position = send_evidence(services, payment_order_id, text, caller)
    body = dispute_response(services.application, dispute.psp_dispute_id)
    return stored_answer(202, body, f"/payments/{payment_order_id}/dispute", position)


class DisputesController(Controller):
    tags = ["disputes"]

    @get(
        "/disputes",
        **spec(
            "listDisputes",
            "Disputes (chargebacks), newest first or soonest deadline first, filtered",
            problems=(422, 503),
        ),
        description=LIST_DESCRIPTION,
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE, Role.SELLER),
    )
    def list_disputes(
        self,
        services: ServicesDep,
        caller: CallerDep,
        status: DisputeStatusQuery = None,
        seller_account: IdQuery = None,
        payment_order_id: IdQuery = None,
        due_before: InstantQuery = None,
        order: OrderQuery = DisputeOrder.NEWEST.value,
        limit: LimitQuery = 50,
        cursor: CursorQuery = None,
        *,
        fresh: FreshDep,
    ) -> DisputePage:
        due = parse_instant("due_before", due_before)
        where = DisputeFilter(status, seller_account, payment_order_id, due)
        return list_disputes(
            services, caller, where, DisputeOrder(order), (limit, cursor), fresh.min_position()
        )

    @get(
        "/payments/{payment_order_id:str}/dispute",
        **spec(
            "getPaymentOrderDispute",
            "The order's dispute (chargeback), as the PSP confirmed it",
            problems=(404, 422),
        ),
        description="Status needs_response (evidence due by evidence_due_by), under_review "
        "(evidence sent), won (amount given back; the fee stays) or lost. 404 when the order "
        "is unknown or was never disputed. Read from the dispute's events: current at once.",
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE),
    )
    def get_dispute(
        self, payment_order_id: PaymentOrderIdPath, services: ServicesDep
    ) -> DisputeResponse:
        dispute = services.disputes.dispute_of_order(payment_order_id)  # NotFound: 404
        return dispute_response(services.application, dispute.psp_dispute_id)

    @post(
        "/payments/{payment_order_id:str}/dispute/evidence",
        **spec(
            "submitPaymentOrderDisputeEvidence",
            "Answer the order's dispute with evidence, forwarded to the PSP",
            problems=(404, 409, 413, 422, 503),
            answers={
                202: success(
                    DisputeResponse, "The PSP took the evidence: the dispute, under review"
                )
            },
        ),
        description="Needs Idempotency-Key. Forwards the text to the PSP before the deadline "
        "and records it once the PSP accepted it: 202 with the dispute, under_review (the "
        "PSP decides later; the outcome arrives by webhook). 404 when the order is unknown "
        "or has no dispute; 409 when the dispute is no longer awaiting evidence (sent "
        "already, won or lost) or the deadline has passed; 422 for an empty or too long "
        "text, or card data in it; 503 when the PSP cannot be reached (nothing recorded).",
        status_code=202,
        before_request=guard_keyed_body,
        request_max_body_size=MAX_BODY_BYTES,
        operation_class=operation(
            headers={
                202: write_headers(
                    "The dispute's URL",
                    "Position of the write (absent when it was recorded before)",
                    position_required=False,
                )
            }
        ),
        **access(Role.MERCHANT),
    )
    def submit_dispute_evidence(
        self,
        payment_order_id: PaymentOrderIdPath,
        data: JSONBody[DisputeEvidenceRequest],
        services: ServicesDep,
        once: OnceDep,
    ) -> Response[bytes]:
        return once.run(
            EVIDENCE_SCOPE,
            fingerprint({"order": payment_order_id, "text": data.text}),
            lambda: _evidence(services, payment_order_id, data.text, once.caller),
        )
