"""Disputes (chargebacks): opened by the card network, answered with evidence, won or lost.

A dispute opens on a succeeded charge `dispute_delay_s` after a charge with card
4000000000000259, or at once by `POST /admin/disputes`; one charge has at most one dispute, over
what was not refunded of it. Opening withdraws the amount and the dispute fee (`dispute.created`,
status needs_response, evidence due `evidence_window_s` later). Evidence sent before the deadline
puts it under review: text containing `winning_evidence` is won, `losing_evidence` lost, each
`dispute_review_delay_s` later (as a network takes time, and so that the outcome arrives as a
webhook); any other text stays under review until `POST /admin/disputes/{id}/close`. No evidence
by the deadline loses it. Won gives the amount back (`dispute.won`; the fee stays), lost keeps it
(`dispute.lost`); `POST /admin/disputes/{id}/reopen` turns a won dispute lost again (a second
chargeback, `dispute.lost`).
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from litestar import get, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody

from payments.psp.sandbox.bodies import StrictBody
from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.faults import FaultBook
from payments.psp.sandbox.identifiers import iso_utc, new_id, parse_iso_utc, utc_now
from payments.psp.sandbox.lifecycle import TransitionApplier, schedule_transition
from payments.psp.sandbox.lookups import not_found, require_row, row_of
from payments.psp.sandbox.models import (
    DisputeCloseRequest,
    DisputeList,
    DisputeOpenRequest,
    DisputeView,
    EvidenceRequest,
)
from payments.psp.sandbox.openapi import (
    BAD_BODY,
    BAD_PARAMETERS,
    ChargeQuery,
    ObjectId,
    answers,
    follow,
    with_links,
)
from payments.psp.sandbox.problems import FieldError, ProblemError
from payments.psp.sandbox.refunds import refundable_minor
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.views import row_view
from payments.psp.sandbox.webhooks import enqueue_event

DISPUTES, ADMIN = "disputes", "admin"
NEEDS_RESPONSE, UNDER_REVIEW, WON, LOST = "needs_response", "under_review", "won", "lost"
EXPIRED = "expired"  # a transition's outcome: no evidence came by the deadline
WINNING_TEXT, LOSING_TEXT = "winning_evidence", "losing_evidence"
NETWORK_REASON = "fraudulent"  # the reason of disputes opened by card 4000000000000259
UNKNOWN_DISPUTE = {404: "no such dispute"}
DISPUTE_LINKS = with_links(
    {
        201: {
            "get": follow("getDispute", dispute_id="$response.body#/id"),
            "byCharge": follow("listDisputesByCharge", charge="$response.body#/charge"),
            "evidence": follow("submitDisputeEvidence", dispute_id="$response.body#/id"),
            "close": follow("closeDispute", dispute_id="$response.body#/id"),
            "reopen": follow("reopenDispute", dispute_id="$response.body#/id"),
        }
    }
)


def dispute_view(dispute: sqlite3.Row) -> DisputeView:
    return row_view(DisputeView, dispute, object="dispute")


_SELECT = (
    "SELECT d.*, c.reference AS charge_reference FROM disputes d"
    " JOIN charges c ON c.id = d.charge_id"
)


def load_dispute_view(connection: sqlite3.Connection, dispute_id: str) -> DisputeView | None:
    dispute = connection.execute(f"{_SELECT} WHERE d.id = ?", (dispute_id,)).fetchone()
    return None if dispute is None else dispute_view(dispute)


def open_dispute(
    connection: sqlite3.Connection,
    config: SandboxConfig,
    faults: FaultBook,
    charge: sqlite3.Row,
    reason: str,
) -> DisputeView:
    """Open a dispute on a succeeded, undisputed charge; 422/409 problems say why not."""
    if charge["status"] != "succeeded":
        detail = f"the charge is {charge['status']}; only a succeeded charge can be disputed"
        raise ProblemError(422, "Charge not disputable", detail, [FieldError("charge", detail)])
    existing = connection.execute(
        "SELECT id FROM disputes WHERE charge_id = ?", (charge["id"],)
    ).fetchone()
    if existing is not None:
        raise ProblemError(409, "Charge already disputed", f"see dispute {existing['id']}")
    amount = refundable_minor(connection, charge)
    if amount == 0:
        detail = "the charge was refunded in full; nothing is left to dispute"
        raise ProblemError(422, "Charge not disputable", detail, [FieldError("charge", detail)])
    dispute_id, opened = new_id("dp"), utc_now()
    due = opened + timedelta(seconds=config.evidence_window_s)
    connection.execute(
        "INSERT INTO disputes (id, charge_id, amount, currency, fee, reason, status,"
        " evidence_due_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            dispute_id,
            charge["id"],
            amount,
            charge["currency"],
            config.dispute_fee_minor,
            reason,
            NEEDS_RESPONSE,
            iso_utc(due),
            iso_utc(opened),
            iso_utc(opened),
        ),
    )
    schedule_transition(connection, "dispute", dispute_id, EXPIRED, config.evidence_window_s)
    view = load_dispute_view(connection, dispute_id)
    assert view is not None
    enqueue_event(connection, faults, "dispute.created", view)
    return view


def _set_status(
    connection: sqlite3.Connection, faults: FaultBook, dispute_id: str, status: str
) -> DisputeView:
    """Record a dispute's new status (and when it was won), with its webhook for won/lost."""
    now = iso_utc(utc_now())
    connection.execute(
        "UPDATE disputes SET status = ?, updated_at = ?,"
        " won_at = CASE WHEN ? = 'won' THEN ? ELSE won_at END WHERE id = ?",
        (status, now, status, now, dispute_id),
    )
    view = load_dispute_view(connection, dispute_id)
    assert view is not None
    if status in (WON, LOST):
        enqueue_event(connection, faults, f"dispute.{status}", view)
    return view


def decide_dispute(
    connection: sqlite3.Connection, faults: FaultBook, dispute_id: str, outcome: str
) -> None:
    """A due decision: won/lost after a review, lost when the evidence deadline passed unanswered.

    A decision that an admin close (or the other decision) overtook changes nothing.
    """
    dispute = row_of(connection, "disputes", dispute_id)
    if dispute is None:
        return
    if outcome == EXPIRED and dispute["status"] == NEEDS_RESPONSE:
        _set_status(connection, faults, dispute_id, LOST)
    elif outcome in (WON, LOST) and dispute["status"] == UNDER_REVIEW:
        _set_status(connection, faults, dispute_id, outcome)


def open_scheduled_dispute(config: SandboxConfig) -> TransitionApplier:
    """The applier that opens the network's dispute on a charge of card 4000000000000259."""

    def open_on_charge(
        connection: sqlite3.Connection, faults: FaultBook, charge_id: str, _: str
    ) -> None:
        charge = row_of(connection, "charges", charge_id)
        if charge is None:
            return
        try:
            open_dispute(connection, config, faults, charge, NETWORK_REASON)
        except ProblemError:
            return  # refunded in full or disputed by an admin meanwhile: nothing left to open

    return open_on_charge


def _conflict(title: str, dispute: sqlite3.Row, wanted: str) -> ProblemError:
    return ProblemError(409, title, f"the dispute is {dispute['status']}; {wanted}")


def submit_evidence(sandbox: Sandbox, dispute_id: str, text: str) -> DisputeView:
    """Evidence before the deadline puts the dispute under review (and maybe decides it)."""
    with sandbox.store.transaction() as connection:
        dispute = require_row(connection, "dispute", dispute_id)
        if utc_now() >= parse_iso_utc(dispute["evidence_due_by"]):
            detail = f"evidence was due by {dispute['evidence_due_by']}"
            raise ProblemError(409, "Evidence too late", detail)
        if dispute["status"] != NEEDS_RESPONSE:
            raise _conflict("Dispute not awaiting evidence", dispute, "evidence goes in once")
        view = _set_status(connection, sandbox.faults, dispute_id, UNDER_REVIEW)
        delay = sandbox.config.dispute_review_delay_s
        for marker, outcome in ((WINNING_TEXT, WON), (LOSING_TEXT, LOST)):
            if marker in text:
                schedule_transition(connection, "dispute", dispute_id, outcome, delay)
                break
        return view


def close_dispute(sandbox: Sandbox, dispute_id: str, outcome: str) -> DisputeView:
    with sandbox.store.transaction() as connection:
        dispute = require_row(connection, "dispute", dispute_id)
        if dispute["status"] not in (NEEDS_RESPONSE, UNDER_REVIEW):
            raise _conflict("Dispute already closed", dispute, "only an open one can be closed")
        return _set_status(connection, sandbox.faults, dispute_id, outcome)


def reopen_dispute(sandbox: Sandbox, dispute_id: str) -> DisputeView:
    """A second chargeback: a won dispute is lost after all, and the amount is withdrawn again."""
    with sandbox.store.transaction() as connection:
        dispute = require_row(connection, "dispute", dispute_id)
        if dispute["status"] != WON or dispute["reopened_at"] is not None:
            raise _conflict("Dispute not reopenable", dispute, "only a won one reopens, once")
        connection.execute(
            "UPDATE disputes SET reopened_at = ? WHERE id = ?", (iso_utc(utc_now()), dispute_id)
        )
        return _set_status(connection, sandbox.faults, dispute_id, LOST)


def _changed(answer: str, conflict: str, *, body: bool = True) -> dict[int, ResponseSpec]:
    """The answers of a change to one dispute: the dispute, or a 404 or 409 problem (and a 400
    for its parameters, or its body when it takes one)."""
    inputs = (BAD_BODY, BAD_PARAMETERS) if body else (BAD_PARAMETERS,)
    return answers({200: (DisputeView, answer)}, *inputs, UNKNOWN_DISPUTE, {409: conflict})


def dispute_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @get(
        "/v1/disputes/{dispute_id:str}",
        operation_id="getDispute",
        tags=[DISPUTES],
        summary="Look up a dispute by id",
        responses=answers({200: (DisputeView, "the dispute")}, BAD_PARAMETERS, UNKNOWN_DISPUTE),
    )
    async def get_dispute(dispute_id: ObjectId) -> DisputeView:
        dispute = sandbox.store.fetch_one(f"{_SELECT} WHERE d.id = ?", (dispute_id,))
        if dispute is None:
            raise not_found("dispute", dispute_id)
        return dispute_view(dispute)

    @get(
        "/v1/disputes",
        operation_id="listDisputesByCharge",
        tags=[DISPUTES],
        summary="Look up the dispute of a charge",
        responses=answers(
            {200: (DisputeList, "the charge's dispute")},
            BAD_PARAMETERS,
            {404: "the charge has no dispute"},
        ),
    )
    async def list_disputes_by_charge(charge: ChargeQuery) -> DisputeList:
        disputes = sandbox.store.fetch_all(f"{_SELECT} WHERE d.charge_id = ?", (charge,))
        if not disputes:
            raise ProblemError(404, "Dispute not found", f"no dispute for charge {charge!r}")
        return DisputeList("list", [dispute_view(dispute) for dispute in disputes])

    @post(
        "/v1/disputes/{dispute_id:str}/evidence",
        status_code=200,
        operation_id="submitDisputeEvidence",
        tags=[DISPUTES],
        summary="Answer a dispute with evidence",
        dto=StrictBody[EvidenceRequest],
        responses=_changed(
            "the dispute, under review",
            "the deadline has passed, or the dispute is no longer awaiting evidence",
        ),
    )
    async def post_evidence(dispute_id: ObjectId, data: JSONBody[EvidenceRequest]) -> DisputeView:
        """`winning_evidence` in the text wins, `losing_evidence` loses (after the review delay,
        with a webhook); other text waits for an admin to close the dispute."""
        return submit_evidence(sandbox, dispute_id, data.text)

    @post(
        "/admin/disputes",
        status_code=201,
        operation_id="openDispute",
        operation_class=DISPUTE_LINKS,
        tags=[ADMIN],
        summary="Open a dispute on a succeeded charge, as a card network would",
        dto=StrictBody[DisputeOpenRequest],
        responses=answers(
            {201: (DisputeView, "the dispute, needing a response")},
            BAD_BODY,
            {
                409: "the charge already has a dispute",
                422: "the charge is unknown, not succeeded or refunded in full",
            },
        ),
    )
    async def post_dispute(data: JSONBody[DisputeOpenRequest]) -> DisputeView:
        with sandbox.store.transaction() as connection:
            charge = row_of(connection, "charges", data.charge)
            if charge is None:
                detail = f"no charge {data.charge!r}"
                raise ProblemError(422, "Unknown charge", detail, [FieldError("charge", detail)])
            return open_dispute(connection, sandbox.config, sandbox.faults, charge, data.reason)

    @post(
        "/admin/disputes/{dispute_id:str}/close",
        status_code=200,
        operation_id="closeDispute",
        operation_class=with_links(
            {200: {"reopen": follow("reopenDispute", dispute_id="$response.body#/id")}}
        ),
        tags=[ADMIN],
        summary="Decide an open dispute",
        dto=StrictBody[DisputeCloseRequest],
        responses=_changed("the dispute, won or lost", "the dispute is already won or lost"),
    )
    async def post_close(dispute_id: ObjectId, data: JSONBody[DisputeCloseRequest]) -> DisputeView:
        return close_dispute(sandbox, dispute_id, data.outcome)

    @post(
        "/admin/disputes/{dispute_id:str}/reopen",
        status_code=200,
        operation_id="reopenDispute",
        tags=[ADMIN],
        summary="Reopen a won dispute as lost (a second chargeback)",
        responses=_changed(
            "the dispute, lost", "the dispute is not won, or was reopened already", body=False
        ),
    )
    async def post_reopen(dispute_id: ObjectId) -> DisputeView:
        return reopen_dispute(sandbox, dispute_id)

    return [
        get_dispute,
        list_disputes_by_charge,
        post_evidence,
        post_dispute,
        post_close,
        post_reopen,
    ]
