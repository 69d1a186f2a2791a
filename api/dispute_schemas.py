"""The dispute's request and answer bodies (api/dispute_reads.py builds the answer)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

# The PSP takes evidence texts of at most this many characters (the sandbox: 4000).
MAX_EVIDENCE_CHARACTERS = 4000


class DisputeEvidenceRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /payments/{id}/dispute/evidence body: the evidence, forwarded to the PSP as is."""

    text: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=MAX_EVIDENCE_CHARACTERS,
            description="What answers the dispute (receipts, delivery proof, correspondence); "
            "no card numbers.",
            examples=["Delivered 2026-11-02, signed by the buyer; tracking 1Z999AA10123456784."],
        ),
    ]


class DisputeResponse(msgspec.Struct, frozen=True):
    """An order's dispute (chargeback): what the PSP withdrew, why, and where it stands."""

    dispute_id: str  # the PSP's dispute id
    payment_order_id: str
    seller_account: str
    status: str  # needs_response | under_review | won | lost
    reason: str
    amount: str
    fee: str
    currency: str
    evidence_due_by: datetime
    opened_at: datetime
    evidence_submitted_at: datetime | None = None
    closed_at: datetime | None = None
    second_chargeback: bool = False


class DisputePage(msgspec.Struct, frozen=True):
    """GET /disputes answer: pass next_cursor as ?cursor= (with the same order) for the next
    page."""

    items: list[DisputeResponse]
    next_cursor: str | None
