"""Personal data (ADR 0012, docs/security.md): POST /privacy/erasures,
GET /privacy/erasures/{erasure_id}, GET /privacy/checkouts/{checkout_id}/buyer-info.

Admin only (DESIGN §11): every route declares `**access()` (admin), which the access guard
enforces. Bodies and answers hold no personal data beyond what the buyer-info read shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import JSONBody, PathParameter
from msgspec import Meta

from payments.api.auth import access
from payments.api.card_guard import guard_keyed_body
from payments.api.idempotency import OnceDep, fingerprint, stored_answer
from payments.api.openapi import created_or_existing, spec
from payments.api.parameters import CheckoutIdPath, ServicesDep
from payments.api.problems import ProblemError
from payments.api.reads import not_found
from payments.api.schemas import Identifier
from payments.domain.erasure import Erasure
from payments.domain.errors import FieldError, InvalidCommand
from payments.domain.personal_data import MAX_BUYER_ID_LENGTH, buyer_subject, checkout_subject
from payments.domain.seller import seller_subject
from payments.runtime.idempotency import StoredResponse
from payments.runtime.personal_data import PersonalDataReading
from payments.runtime.privacy import ErasureOutcome, erase_subject, read_buyer_info

ERASE_SCOPE = "POST /privacy/erasures"
MAX_BODY_BYTES = 4 * 1024
BuyerId = Annotated[
    str, Meta(min_length=1, max_length=MAX_BUYER_ID_LENGTH, description="buyer_info.buyer_id")
]


class ErasureRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Whose personal data to erase: a buyer (buyer_info.buyer_id), a checkout placed
    without a buyer_id, or a seller (legal name, contact, KYC id number). Exactly one."""

    buyer_id: BuyerId | None = None
    checkout_id: Identifier | None = None
    seller_account: Identifier | None = None


class ErasureResponse(msgspec.Struct, frozen=True):
    erasure_id: str
    subject_digest: str
    keys_erased: int
    requested_by: str
    erased_at: datetime


class BuyerInfoResponse(msgspec.Struct, frozen=True):
    checkout_id: str
    state: str  # readable | erased | unreadable
    encrypted: bool  # False: recorded in clear, before ADR 0012
    buyer_info: dict[str, Any] | None
    erased_at: datetime | None


def erasure_body(erasure: Erasure) -> ErasureResponse:
    return ErasureResponse(
        erasure_id=str(erasure.id),
        subject_digest=erasure.subject_digest,
        keys_erased=len(erasure.key_ids),
        requested_by=erasure.requested_by,
        erased_at=erasure.created_on,
    )


def buyer_info_body(checkout_id: str, reading: PersonalDataReading) -> BuyerInfoResponse:
    return BuyerInfoResponse(
        checkout_id=checkout_id,
        state=reading.state,
        encrypted=reading.encrypted,
        buyer_info=reading.buyer_info,
        erased_at=reading.erased_at,
    )


def subject_of_request(data: ErasureRequest) -> str:
    given = [x for x in (data.buyer_id, data.checkout_id, data.seller_account) if x is not None]
    if len(given) != 1:
        message = "give exactly one of buyer_id, checkout_id or seller_account"
        raise InvalidCommand([FieldError("body", message)])
    if data.buyer_id is not None:
        return buyer_subject(data.buyer_id)
    if data.seller_account is not None:
        return seller_subject(data.seller_account)
    assert data.checkout_id is not None
    return checkout_subject(data.checkout_id)


def nothing_to_erase() -> ProblemError:
    return ProblemError(
        404,
        "no-personal-data",
        "No personal data held for this subject",
        "No key was ever made for this buyer_id or checkout_id: nothing to erase. (A "
        "checkout placed with a buyer_id is erased with its buyer.)",
    )


def _erasure_response(outcome: ErasureOutcome | None) -> StoredResponse:
    if outcome is None:
        raise nothing_to_erase()
    erasure = outcome.erasure
    return stored_answer(
        201 if outcome.erased_now else 200, erasure_body(erasure), f"/privacy/erasures/{erasure.id}"
    )


# Any other value than an erasure's UUID answers 404 (as the run ids of reconciliation).
ErasureIdPath = Annotated[
    str, PathParameter(description="The erasure's id, a UUID.", schema_extra={"format": "uuid"})
]


class PrivacyController(Controller):
    path = "/privacy"
    tags = ["privacy"]

    @post(
        "/erasures",
        **spec(
            "createErasure",
            "Erase a buyer's personal data for good",
            problems=(400, 404, 409, 413, 422),
            answers=created_or_existing(
                ErasureResponse,
                "Erased now: the record of the erasure",
                "Erased before: the earlier record",
            ),
        ),
        description="Erases the keys that seal the buyer_info of every checkout of this "
        "buyer (or of this checkout, placed without a buyer_id), or a seller's legal name, "
        "contact and KYC id number: it becomes unreadable; "
        "orders, ledger, reconciliation and the audit chain stay as they are. Records an "
        "Erasure event. Needs Idempotency-Key. 201 when keys were erased now, 200 when the "
        "subject was erased before, 404 when it never had a key.",
        status_code=201,
        before_request=guard_keyed_body,
        request_max_body_size=MAX_BODY_BYTES,
        **access(),
    )
    def erase(
        self, data: JSONBody[ErasureRequest], services: ServicesDep, once: OnceDep
    ) -> Response[bytes]:
        subject = subject_of_request(data)
        keys = services.personal_data
        return once.run(
            ERASE_SCOPE,
            fingerprint(data, keys.keyed_hash),
            lambda: _erasure_response(
                erase_subject(keys, services.erasures, subject, once.caller.key_id)
            ),
        )

    @get(
        "/erasures/{erasure_id:str}",
        **spec(
            "getErasure",
            "An erasure as recorded: when, by whom, how many keys",
            problems=(404, 422),
        ),
        **access(),
    )
    def get_erasure(self, erasure_id: ErasureIdPath, services: ServicesDep) -> ErasureResponse:
        try:
            found = services.erasures.find(UUID(erasure_id))
        except ValueError:
            found = None
        if found is None:
            raise not_found(f"erasure {erasure_id!r}")
        return erasure_body(found)

    @get(
        "/checkouts/{checkout_id:str}/buyer-info",
        **spec(
            "getBuyerInfo", "A checkout's buyer_info, or why it cannot be read", problems=(404, 422)
        ),
        description="state is readable, erased (its key was erased: erased_at says when) or "
        "unreadable (no key for it). encrypted is false for checkouts recorded before "
        "buyer_info was sealed.",
        **access(),
    )
    def get_buyer_info(
        self, checkout_id: CheckoutIdPath, services: ServicesDep
    ) -> BuyerInfoResponse:
        checkout, reading = read_buyer_info(
            services.application, services.personal_data, checkout_id
        )
        return buyer_info_body(checkout.checkout_id, reading)
