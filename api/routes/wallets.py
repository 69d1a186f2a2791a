"""Reads of the wallet view: what each seller has pending, available, in transit and paid out
(now or as of), and which sellers are in debt (ADR 0014)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from payments.api.as_of import as_of_unavailable, parse_as_of
from payments.api.auth import access
from payments.api.openapi import spec
from payments.api.parameters import (
    AsOfQuery,
    CallerDep,
    IdQuery,
    LimitQuery,
    SellerAccountPath,
    ServicesDep,
)
from payments.api.reads import FreshDep, keyset_page, not_found
from payments.domain.api_key import Role
from payments.domain.money import format_minor
from payments.projections.audit import as_of as history
from payments.projections.audit.instants import AsOfUnavailable
from payments.projections.catalog import LiveViews
from payments.projections.views.wallets import Wallet
from payments.runtime.services import Services

NegativeBalanceQuery = Annotated[
    str,
    QueryParameter(
        pattern="^negative$",
        description="`negative`: the wallets whose balance is below zero.",
        schema_extra={"enum": ["negative"]},
    ),
]


class WalletResponse(msgspec.Struct, frozen=True):
    seller_account: str
    currency: str
    pending: str  # earned, not settled by the PSP yet: not payable
    available: str  # payable; below zero after a refund or dispute took more than was left
    in_transit: str  # payouts reserved, not paid yet
    paid_out: str
    balance: str  # pending + available: what we owe the seller (below zero: what it owes us)
    funds_available_on: str  # "settlement" or "after N days" (PAYMENTS_AVAILABLE_AFTER_DAYS)
    negative_since: datetime | None  # since when the balance is below zero (live answers)
    credit_count: int
    updated_at: datetime
    position: int


class NegativeWalletPage(msgspec.Struct, frozen=True):
    wallets: list[WalletResponse]
    next_after: str | None  # pass as ?after= for the next page


def wallet_response(wallet: Wallet, funds_available_on: str) -> WalletResponse:
    def money(minor: int) -> str:
        return format_minor(minor, wallet.currency)

    return WalletResponse(
        seller_account=wallet.seller_account,
        currency=wallet.currency,
        pending=money(wallet.pending_minor),
        available=money(wallet.available_minor),
        in_transit=money(wallet.in_transit_minor),
        paid_out=money(wallet.paid_out_minor),
        balance=money(wallet.balance_minor),
        funds_available_on=funds_available_on,
        negative_since=wallet.negative_since,
        credit_count=wallet.credit_count,
        updated_at=wallet.updated_at,
        position=wallet.position,
    )


def wallet_as_of(services: Services, seller_account: str, instant: datetime) -> Wallet | None:
    try:
        return history.wallet_as_of(services.pool, services.application, seller_account, instant)
    except AsOfUnavailable as error:
        raise as_of_unavailable(error) from None


class WalletsController(Controller):
    path = "/wallets"
    tags = ["wallets"]

    @get(
        "/",
        **spec(
            "listNegativeWallets",
            "Sellers in debt: wallets whose balance is below zero, with since when",
            problems=(422, 503),
        ),
        description="Only `balance=negative` is supported: the sellers a refund or dispute left "
        "owing the platform, by seller account, each with its amounts and `negative_since`. "
        "Later sales net a debt off first; payouts skip these sellers.",
        **access(Role.FINANCE),
    )
    def negative_wallets(
        self,
        services: ServicesDep,
        balance: NegativeBalanceQuery,
        limit: LimitQuery = 100,
        after: IdQuery = None,
        *,
        fresh: FreshDep,
    ) -> NegativeWalletPage:
        wallets = fresh.wait(LiveViews.on(services.pool).wallets)
        page, last = keyset_page(wallets.negative(limit + 1, after), limit)
        mode = services.settings.funds_available_on
        return NegativeWalletPage(
            wallets=[wallet_response(w, mode) for w in page],
            next_after=last.seller_account if last is not None else None,
        )

    @get(
        "/{seller_account:str}",
        **spec(
            "getWallet",
            "A seller's wallet: pending, available, in transit, paid out and balance",
            problems=(404, 422, 503),
        ),
        description="With ?as_of= the wallet as it stood at that instant.",
        **access(Role.FINANCE, Role.SELLER),
    )
    def wallet(
        self,
        seller_account: SellerAccountPath,
        services: ServicesDep,
        caller: CallerDep,
        fresh: FreshDep,
        as_of: AsOfQuery = None,
    ) -> WalletResponse:
        if not caller.may_read_seller(seller_account):
            raise not_found(f"wallet of seller {seller_account!r}")  # not revealed to others
        wallets = fresh.wait(LiveViews.on(services.pool).wallets)
        instant = parse_as_of(as_of)
        wallet = (
            wallet_as_of(services, seller_account, instant)
            if instant is not None
            else wallets.wallet(seller_account)
        )
        if wallet is None:
            raise not_found(f"wallet of seller {seller_account!r}")
        return wallet_response(wallet, services.settings.funds_available_on)
