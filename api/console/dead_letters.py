"""Dead letters: the orders, payouts and refunds parked after their last retry, what went
wrong, and a confirmed replay of the chosen ones or of all of a kind. The same `parked()` and
`replay()` as GET /dead-letters and its replay routes, with their roles (operator)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get, post
from litestar.response import Redirect, Template

from payments.api.console.forms import FormBody, as_json_body, confirmed
from payments.api.console.orders import order_path
from payments.api.console.pages import CallerDep, Field, Page, ServicesDep, render
from payments.api.reads import invalid
from payments.api.routes.dead_letters import ReplayRequest, parked, replay
from payments.domain.api_key import Role
from payments.projections.followers.execution_queue import CHARGE, PAYOUT, REFUND

PAGE = Page.of("/console/dead-letters", "Dead letters", Role.OPERATOR)
# The path's kind, the queue's target, and what one of them is called on the page.
KINDS = {"orders": (CHARGE, "order"), "payouts": (PAYOUT, "payout"), "refunds": (REFUND, "refund")}
MAX_CHOSEN = 500
DEFAULT = "replayed from the console"


class ReplayForm(msgspec.Struct, frozen=True):
    confirm: str = ""
    reason: str = ""
    every: str = ""  # "yes": every dead letter of the kind, as POST /dead-letters/replay-all
    reference: list[str] | str = []  # one ticked box arrives as a string


@get("/dead-letters", sync_to_thread=True, **PAGE.access)
def dead_letters_page(
    caller: CallerDep, services: ServicesDep, done: Field = None, count: Field = None
) -> Template:
    sections = [
        {
            "kind": kind,
            "noun": noun,
            "parked": parked(services, target),
            "link": order_path if target == CHARGE else None,
        }
        for kind, (target, noun) in KINDS.items()
    ]
    message = None
    if done in KINDS and count is not None and count.isdigit():
        message = f"Replayed {int(count)} {KINDS[done][1]}(s): the executor tries them again."
    return render("dead_letters.html", caller, PAGE, sections=sections, done=message)


@post("/dead-letters/{kind:str}/replay", sync_to_thread=True, **PAGE.access)
def replay_dead_letters(
    kind: Annotated[str, msgspec.Meta(max_length=20)],
    data: FormBody[ReplayForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    if kind not in KINDS:
        raise invalid("kind", f"one of {', '.join(KINDS)}")
    target, noun = KINDS[kind]
    confirmed(data.confirm, f"the replay of the chosen {noun}s")
    reason = as_json_body(ReplayRequest, "reason", reason=data.reason.strip() or DEFAULT).reason
    waiting = {d.reference for d in parked(services, target)}
    if data.every == "yes":
        chosen = sorted(waiting)
    else:
        chosen = [data.reference] if isinstance(data.reference, str) else list(data.reference)
        if not chosen:
            raise invalid("reference", f"choose at least one {noun} to replay")
        if len(chosen) > MAX_CHOSEN:
            raise invalid("reference", f"at most {MAX_CHOSEN} at once")
        gone = [r for r in chosen if r not in waiting]
        if gone:
            raise invalid("reference", f"not dead-lettered (any more): {', '.join(gone[:5])}")
    replay(services, target, chosen, reason, caller.key_id)
    return Redirect(f"{PAGE.path}?done={kind}&count={len(chosen)}", status_code=303)


HANDLERS = [dead_letters_page, replay_dead_letters]
