"""Wallets: a seller's pending, available, in-transit and paid-out money, now or as of a past
instant, and the sellers in debt. Finance looks any seller up; a seller key sees its own wallet
only. The same views and answers as GET /wallets/{seller} and GET /wallets?balance=negative."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from payments.api.console.pages import CallerDep, Field, Page, ServicesDep, as_of_of, render
from payments.api.reads import not_found
from payments.api.routes.wallets import wallet_as_of, wallet_response
from payments.domain.api_key import Role
from payments.projections.catalog import LiveViews

PAGE = Page.of("/console/wallets", "Wallets", Role.FINANCE, Role.SELLER)
IN_DEBT_SHOWN = 50


@get("/wallets", sync_to_thread=True, **PAGE.access)
def wallets_page(
    caller: CallerDep, services: ServicesDep, seller: Field = None, as_of: Field = None
) -> Template:
    instant = as_of_of(as_of)
    wanted = caller.seller_account if caller.role is Role.SELLER else (seller or "").strip()
    mode = services.settings.funds_available_on
    views = LiveViews.on(services.pool)
    wallet, empty = None, False
    if wanted:
        if not caller.may_read_seller(wanted):
            raise not_found(f"wallet of seller {wanted!r}")  # not revealed to others
        found = (
            wallet_as_of(services, wanted, instant)
            if instant is not None
            else views.wallets.wallet(wanted)
        )
        if found is None and caller.role is not Role.SELLER:
            raise not_found(f"wallet of seller {wanted!r}")
        # A seller's own page before its first sale: nothing has moved yet, which is no error.
        empty = found is None
        wallet = None if found is None else wallet_response(found, mode)
    in_debt = (
        [wallet_response(w, mode) for w in views.wallets.negative(IN_DEBT_SHOWN, None)]
        if caller.role is not Role.SELLER and instant is None
        else None
    )
    return render(
        "wallets.html",
        caller,
        PAGE,
        as_of=instant,
        seller=wanted,
        wallet=wallet,
        empty=empty,
        in_debt=in_debt,
        may_search=caller.role is not Role.SELLER,
    )


HANDLERS = [wallets_page]
