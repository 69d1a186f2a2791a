"""Audit (finance): verify every view against history and follow it to its result, the seals
of the event log and their last check (or one run now), and who did what (the actions log).
The same commands and answers as POST/GET /audit/verifications, `payments audit check`
and GET /audit/actions, with their roles."""

from __future__ import annotations

import re
import uuid

from litestar import get, post
from litestar.response import Redirect, Template

from payments.api.console.pages import CallerDep, Field, Page, ServicesDep, given, next_page, render
from payments.api.parameters import POSITION_PATTERN, UuidPath
from payments.api.problems import ProblemError
from payments.api.reads import invalid, not_found
from payments.api.routes.actions import ACTION_PATTERN, ACTOR_PATTERN, action_page
from payments.domain.api_key import Role
from payments.projections.audit.seal import EventLogSeal
from payments.projections.audit.seal_checks import check_and_record, seal_state
from payments.projections.audit.verifications import WAITING, VerificationStore
from payments.projections.catalog import NAMES
from payments.projections.views.access import AuditActionsView
from payments.runtime.services import Services

PAGE = Page.of("/console/audit", "Audit", Role.FINANCE)
PAGE_SIZE = 50
RECENT = 5  # verifications listed on the page
REFRESH_S = 2


def _filter(name: str, text: str | None, pattern: str) -> str | None:
    """A filter field of the actions log: empty is none; anything else must fit its pattern."""
    if text is None or not text.strip():
        return None
    if re.fullmatch(pattern, text.strip()) is None:
        raise invalid(name, f"must match {pattern}")
    return text.strip()


def verification_path(verification_id: uuid.UUID) -> str:
    return f"{PAGE.path}/verifications/{verification_id}"


def _sealer(services: Services) -> EventLogSeal | None:
    """The event log's seal, or None where PAYMENTS_AUDIT_KEY is unset (nothing is sealed)."""
    key = services.settings.audit_key
    return EventLogSeal(services.pool, key) if key else None


@get("/audit", sync_to_thread=True, **PAGE.access)
def audit_page(
    caller: CallerDep,
    services: ServicesDep,
    actor: Field = None,
    action: Field = None,
    after: Field = None,
) -> Template:
    who = _filter("actor", actor, ACTOR_PATTERN)
    what = _filter("action", action, ACTION_PATTERN)
    start = _filter("after", after, POSITION_PATTERN)
    found = action_page(services, actor=who, action=what, after=start, limit=PAGE_SIZE)
    kept = given(actor=who, action=what)
    sealer = _sealer(services)
    return render(
        "audit.html",
        caller,
        PAGE,
        verifications=VerificationStore(services.pool).recent(RECENT),
        verification_path=verification_path,
        seals=seal_state(sealer) if sealer else None,
        actions=found.actions,
        action_names=AuditActionsView(services.pool).action_names(),
        actor=who or "",
        action=what or "",
        more=next_page(kept, "after", found.next_after, "#actions"),
        first_page=start is None,
    )


@post("/audit/verifications", sync_to_thread=True, **PAGE.access)
def verify_views(services: ServicesDep) -> Redirect:
    """POST /audit/verifications without an Idempotency-Key: a form sent again while the
    first verification waits, not started, shows that one; later, it queues another."""
    verification_id = VerificationStore(services.pool).create(list(NAMES))
    services.verifications.poke()
    return Redirect(verification_path(verification_id), status_code=303)


@get("/audit/verifications/{verification_id:str}", sync_to_thread=True, **PAGE.access)
def verification_page(
    verification_id: UuidPath, caller: CallerDep, services: ServicesDep
) -> Template:
    try:
        parsed = uuid.UUID(verification_id)
    except ValueError:
        raise invalid("verification_id", "must be a UUID") from None
    found = VerificationStore(services.pool).get(parsed)
    if found is None:
        raise not_found(f"verification {verification_id!r}")
    if found.state in WAITING:
        services.verifications.adopt()  # what a stopped process left runs here
    return render(
        "audit_verification.html",
        caller,
        PAGE,
        title=f"Verification {found.verification_id}",
        verification=found,
        refresh=REFRESH_S if found.state in WAITING else None,  # reloads itself
    )


@post("/audit/seal-check", sync_to_thread=True, **PAGE.access)
def check_seals(caller: CallerDep, services: ServicesDep) -> Redirect:
    """`payments audit check`, now: the answer is kept as the last check, shown on the
    page with who ran it."""
    sealer = _sealer(services)
    if sealer is None:
        raise ProblemError(
            409, "audit-key-missing", "No seal", "PAYMENTS_AUDIT_KEY is not set: nothing to check"
        )
    check_and_record(sealer, caller.key_id)
    return Redirect(f"{PAGE.path}#seals", status_code=303)


HANDLERS = [audit_page, verify_views, verification_page, check_seals]
