"""Reads of the wallet view: what each seller has available and pending (now or as of)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

from payments.api.as_of import as_of_unavailable, parse_as_of
from payments.api.auth import access
from payments.api.parameters import (
    AsOfQuery,
    MinPositionHeader,
    MinPositionQuery,
    SellerAccountPath,
)
from payments.api.problems import problem_specs
from payments.api.reads import ensure_fresh, not_found, parse_min_position
from payments.domain.api_key import Role
from payments.domain.money import format_minor
from payments.projections.audit import as_of as history
from payments.projections.audit.instants import AsOfUnavailable
from payments.projections.catalog import LiveViews
from payments.projections.views.wallets import Wallet
from payments.runtime.keys import Caller
from payments.runtime.services import Services


class WalletResponse(msgspec.Struct, frozen=True):
    seller_account: str
    currency: str
    available: str
    pending: str
    credit_count: int
    updated_at: datetime
    position: int


def _wallet_as_of(services: Services, seller_account: str, instant: datetime) -> Wallet | None:
    try:
        return history.wallet_as_of(services.pool, services.application, seller_account, instant)
    except AsOfUnavailable as error:
        raise as_of_unavailable(error) from None


class WalletsController(Controller):
    path = "/wallets"
    tags = ["wallets"]

    @get(
        "/{seller_account:str}",
        operation_id="getWallet",
        summary="A seller's wallet: available and pending (payouts in flight)",
        description="With ?as_of= the wallet as it stood at that instant.",
        sync_to_thread=True,
        responses=problem_specs(404, 422, 503),
        **access(Role.FINANCE, Role.SELLER),
    )
    def wallet(
        self,
        seller_account: SellerAccountPath,
        services: NamedDependency[Services],
        caller: NamedDependency[Caller],
        min_position: MinPositionQuery = None,
        min_position_header: MinPositionHeader = None,
        as_of: AsOfQuery = None,
    ) -> WalletResponse:
        if not caller.may_read_seller(seller_account):
            raise not_found(f"wallet of seller {seller_account!r}")  # not revealed to others
        wallets = LiveViews.on(services.pool).wallets
        ensure_fresh(services, wallets, parse_min_position(min_position, min_position_header))
        instant = parse_as_of(as_of)
        wallet = (
            _wallet_as_of(services, seller_account, instant)
            if instant is not None
            else wallets.wallet(seller_account)
        )
        if wallet is None:
            raise not_found(f"wallet of seller {seller_account!r}")
        return WalletResponse(
            seller_account=wallet.seller_account,
            currency=wallet.currency,
            available=format_minor(wallet.available_minor, wallet.currency),
            pending=format_minor(wallet.pending_minor, wallet.currency),
            credit_count=wallet.credit_count,
            updated_at=wallet.updated_at,
            position=wallet.position,
        )
