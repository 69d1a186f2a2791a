"""Audit endpoints: an order's history, and verifications of the views against history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Response, get, post

from payments.api.auth import access
from payments.api.idempotency import OnceDep, idempotency_key_guard, sha256_hex, stored_answer
from payments.api.openapi import header, operation, spec, success
from payments.api.parameters import (
    PaymentOrderIdPath,
    ServicesDep,
    UuidPath,
)
from payments.api.problems import FieldProblem, ProblemError
from payments.api.reads import not_found
from payments.domain.api_key import Role
from payments.domain.money import Money
from payments.projections.audit.order_history import order_history
from payments.projections.audit.verifications import WAITING, VerificationStore
from payments.projections.catalog import NAMES
from payments.runtime.idempotency import StoredResponse

# --- history -------------------------------------------------------------------------------


class PostingResponse(msgspec.Struct, frozen=True):
    account: str
    debit: str
    credit: str


class HistoryEventResponse(msgspec.Struct, frozen=True):
    position: int
    event_type: str
    topic: str
    version: int
    recorded_at: datetime
    data: dict[str, Any]
    transaction_id: str | None
    postings: list[PostingResponse]


class OrderHistoryResponse(msgspec.Struct, frozen=True):
    """Every event of the order in log order (no card token, PAN or CVC, ever)."""

    payment_order_id: str
    events: list[HistoryEventResponse]


class OrderHistoryController(Controller):
    tags = ["audit"]

    @get(
        "/payments/{payment_order_id:str}/history",
        **spec(
            "getPaymentOrderHistory", "A payment order's events, in log order", problems=(404, 422)
        ),
        description="Position (notification id), event type, recorded time, the business "
        "fields and the ledger entries each event caused.",
        **access(Role.FINANCE, Role.OPERATOR),
    )
    def history(
        self, payment_order_id: PaymentOrderIdPath, services: ServicesDep
    ) -> OrderHistoryResponse:
        entries = order_history(services.pool, services.application, payment_order_id)
        if entries is None:
            raise not_found(f"payment order {payment_order_id!r}")
        currency = services.settings.currency
        return OrderHistoryResponse(
            payment_order_id=payment_order_id,
            events=[
                HistoryEventResponse(
                    position=e.position,
                    event_type=e.event_type,
                    topic=e.topic,
                    version=e.version,
                    recorded_at=e.recorded_at,
                    data=e.data,
                    transaction_id=e.transaction_id,
                    postings=[
                        PostingResponse(
                            account=p.account,
                            debit=Money(p.debit_minor, currency).format(),
                            credit=Money(p.credit_minor, currency).format(),
                        )
                        for p in e.postings
                    ],
                )
                for e in entries
            ],
        )


# --- verifications -------------------------------------------------------------------------


class VerificationCreated(msgspec.Struct, frozen=True):
    verification_id: str
    state: str
    url: str


class VerificationResponse(msgspec.Struct, frozen=True):
    """State: queued, running, identical (no drift), drift, or failed (see error)."""

    verification_id: str
    state: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    projections: list[str]
    results: list[dict[str, Any]]
    error: str | None


VERIFY_SCOPE = "POST /audit/verifications"


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @post(
        "/verifications",
        **spec(
            "createVerification",
            "Verify every view against history (rebuild and diff), in the background",
            problems=(409, 422),
            answers={202: success(VerificationCreated, "Accepted: the verification is queued")},
        ),
        description="Answers 202 with the verification's id at once. Needs Idempotency-Key. "
        "Verifications run one at a time, oldest first; while one is queued and not started, "
        "a request gets that one's id.",
        status_code=202,
        before_request=idempotency_key_guard,
        operation_class=operation(
            headers={202: {"location": header("The verification's URL", required=True)}}
        ),
        **access(Role.FINANCE),
    )
    def create_verification(self, services: ServicesDep, once: OnceDep) -> Response[bytes]:
        verifications = VerificationStore(services.pool)
        created: list[uuid.UUID] = []

        def create() -> StoredResponse:
            verification_id = verifications.create(list(NAMES))
            created.append(verification_id)
            url = f"/audit/verifications/{verification_id}"
            return stored_answer(202, VerificationCreated(str(verification_id), "queued", url), url)

        response = once.run(VERIFY_SCOPE, sha256_hex(b""), create)  # the body is empty
        if created:  # not on a replay: that one is queued already
            services.verifications.poke()
        return response

    @get(
        "/verifications/{verification_id:str}",
        **spec(
            "getVerification",
            "A verification's state and per-projection results",
            problems=(404, 422),
        ),
        **access(Role.FINANCE),
    )
    def verification(
        self, verification_id: UuidPath, services: ServicesDep
    ) -> VerificationResponse:
        try:
            parsed = uuid.UUID(verification_id)
        except ValueError:
            raise ProblemError(
                422,
                "validation",
                "The request is not valid",
                "verification_id: must be a UUID this API returned",
                errors=[FieldProblem(field="verification_id", message="must be a UUID")],
            ) from None
        found = VerificationStore(services.pool).get(parsed)
        if found is None:
            raise not_found(f"verification {verification_id!r}")
        if found.state in WAITING:
            services.verifications.adopt()  # what a stopped process left runs here
        return VerificationResponse(
            verification_id=str(found.verification_id),
            state=found.state,
            requested_at=found.requested_at,
            started_at=found.started_at,
            finished_at=found.finished_at,
            projections=list(found.projections),
            results=found.results,
            error=found.error,
        )
