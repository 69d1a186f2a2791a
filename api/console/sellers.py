"""Sellers: every seller with its KYC status (filtered, keyset paging) and a seller's page
(KYC, rejection reason, suspension, whether it may be paid out), with an operator's confirmed
Suspend and Reinstate. The same answers and commands as GET /sellers, GET /sellers/{account}
and POST /sellers/{account}/suspend|reinstate, with their roles; a seller key sees its own
seller only."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

import msgspec
from litestar import get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from payments.api.console.forms import FormBody, as_json_body, confirmed
from payments.api.console.pages import (
    CallerDep,
    Field,
    Page,
    ServicesDep,
    chosen,
    console_access,
    given,
    may,
    next_page,
    render,
)
from payments.api.console.wallets import PAGE as WALLETS
from payments.api.parameters import ID_PATTERN, SellerAccountPath
from payments.api.routes.sellers import seller_for, seller_page, seller_response
from payments.api.seller_schemas import ReasonRequest
from payments.domain.api_key import Role
from payments.domain.seller import KycStatus
from payments.runtime.keys import Caller
from payments.runtime.services import Services

# A seller key opens the page too: it is sent to its own seller, never the list.
PAGE = Page.of(
    "/console/sellers", "Sellers", Role.MERCHANT, Role.OPERATOR, Role.FINANCE, Role.SELLER
)
SUSPEND = (Role.OPERATOR,)  # POST /sellers/{account}/suspend and /reinstate
PAGE_SIZE = 50
KYC = tuple(s.value for s in KycStatus)
DONE = {
    "suspend": "Suspended: no payouts, and by policy no new charges.",
    "reinstate": "Reinstated: the suspension is lifted.",
}
AfterField = Annotated[str | None, QueryParameter(pattern=ID_PATTERN, max_length=64)]
KycField = Annotated[str | None, QueryParameter(max_length=20)]


class ReasonForm(msgspec.Struct, frozen=True):
    reason: str = ""
    confirm: str = ""


def seller_path(seller_account: str) -> str:
    return f"{PAGE.path}/{quote(seller_account)}"


@get("/sellers", sync_to_thread=True, **PAGE.access)
def sellers_page(
    caller: CallerDep, services: ServicesDep, kyc_status: KycField = None, after: AfterField = None
) -> Template | Redirect:
    if caller.role is Role.SELLER and caller.seller_account is not None:
        return Redirect(seller_path(caller.seller_account), status_code=303)
    status = chosen("kyc_status", kyc_status, KYC)
    found = seller_page(services, after or "", status, PAGE_SIZE)
    kept = given(kyc_status=status)
    return render(
        "sellers.html",
        caller,
        PAGE,
        sellers=found.sellers,
        kyc_status=status,
        statuses=KYC,
        links={s.seller_account: seller_path(s.seller_account) for s in found.sellers},
        more=next_page(kept, "after", found.next_after),
        first_page=after is None,
    )


@get("/sellers/{seller_account:str}", sync_to_thread=True, **PAGE.access)
def seller_page_of(
    seller_account: SellerAccountPath, caller: CallerDep, services: ServicesDep, done: Field = None
) -> Template:
    seller = seller_response(services, seller_for(services, caller, seller_account))
    acts = may(caller, *SUSPEND)
    return render(
        "seller.html",
        caller,
        PAGE,
        title=f"Seller {seller.seller_account}",
        seller=seller,
        done=DONE.get(done or ""),
        may_list=caller.role is not Role.SELLER,
        wallet=(
            f"{WALLETS.path}?{urlencode({'seller': seller.seller_account})}"
            if WALLETS.offered_to(caller)
            else None
        ),
        offer_suspend=acts and not seller.suspended,
        offer_reinstate=acts and seller.suspended,
    )


def _change(
    services: Services, caller: Caller, seller_account: str, action: str, form: ReasonForm
) -> Redirect:
    """Suspend or reinstate as the JSON route does, with the caller's key id recorded."""
    confirmed(form.confirm, f"the {action}")
    reason = as_json_body(ReasonRequest, "reason", reason=form.reason.strip()).reason
    change = services.sellers.suspend if action == "suspend" else services.sellers.reinstate
    change(seller_account, reason, caller.key_id)
    return Redirect(f"{seller_path(seller_account)}?done={action}", status_code=303)


@post("/sellers/{seller_account:str}/suspend", sync_to_thread=True, **console_access(*SUSPEND))
def suspend(
    seller_account: SellerAccountPath,
    data: FormBody[ReasonForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    return _change(services, caller, seller_account, "suspend", data)


@post("/sellers/{seller_account:str}/reinstate", sync_to_thread=True, **console_access(*SUSPEND))
def reinstate(
    seller_account: SellerAccountPath,
    data: FormBody[ReasonForm],
    caller: CallerDep,
    services: ServicesDep,
) -> Redirect:
    return _change(services, caller, seller_account, "reinstate", data)


HANDLERS = [sellers_page, seller_page_of, suspend, reinstate]
