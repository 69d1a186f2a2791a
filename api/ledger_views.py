"""Reads of the ledger and wallet views: balances, statements, trial balance, wallets."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from api.order_views import (
    MinPositionHeader,
    MinPositionQuery,
    ensure_fresh,
    invalid,
    not_found,
    parse_limit,
    parse_min_position,
)
from api.problems import problem_specs
from api.services import Services
from domain.money import Money
from projections.catalog import LiveViews
from projections.ledger import AccountBalance, EntryKey


class LedgerEntryResponse(msgspec.Struct, frozen=True):
    transaction_id: str
    line: int
    kind: str
    payment_order_id: str | None
    debit: str
    credit: str
    event_time: datetime
    position: int


class AccountResponse(msgspec.Struct, frozen=True):
    """Balance (debits - credits) and a page of the statement, oldest entry first."""

    account: str
    currency: str
    balance: str
    debit_total: str
    credit_total: str
    entry_count: int
    entries: list[LedgerEntryResponse]
    next_cursor: str | None


class TrialBalanceLine(msgspec.Struct, frozen=True):
    account: str
    debit_total: str
    credit_total: str
    balance: str


class TrialBalanceResponse(msgspec.Struct, frozen=True):
    """Every account's balance (debits - credits); total is zero when the ledger is sound."""

    currency: str
    accounts: list[TrialBalanceLine]
    total: str
    balanced: bool
    position: int


class WalletResponse(msgspec.Struct, frozen=True):
    seller_account: str
    currency: str
    available: str
    pending: str
    credit_count: int
    updated_at: datetime
    position: int


def _money(minor: int, currency: str) -> str:
    return Money(minor, currency).format()


def encode_entry_cursor(key: EntryKey) -> str:
    return base64.urlsafe_b64encode(f"{key.position}.{key.line}".encode()).decode().rstrip("=")


def decode_entry_cursor(text: str) -> EntryKey:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        position, line = (int(part) for part in raw.split("."))
    except (binascii.Error, ValueError):
        raise invalid("cursor", "is not a cursor this API returned") from None
    return EntryKey(position, line)


def _line(balance: AccountBalance) -> TrialBalanceLine:
    return TrialBalanceLine(
        account=balance.account,
        debit_total=_money(balance.debit_minor, balance.currency),
        credit_total=_money(balance.credit_minor, balance.currency),
        balance=_money(balance.balance_minor, balance.currency),
    )


class LedgerController(Controller):
    path = "/ledger"
    tags = ["ledger"]

    @get(
        "/accounts/{account:str}",
        summary="An account's balance and statement",
        description="Accounts: psp_receivable, seller:{seller_account}, payouts_in_transit, "
        "psp_fees. Balance is debits minus credits. Statement pages: limit (1-200) and cursor.",
        sync_to_thread=True,
        responses=problem_specs(404, 422, 503),
    )
    def account(
        self,
        account: FromPath[str],
        services: NamedDependency[Services],
        limit: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        min_position: MinPositionQuery = None,
        min_position_header: MinPositionHeader = None,
    ) -> AccountResponse:
        size = parse_limit(limit)
        after = decode_entry_cursor(cursor) if cursor is not None else None
        ledger = LiveViews.on(services.pool).ledger
        ensure_fresh(services, ledger, parse_min_position(min_position, min_position_header))
        balance = ledger.balance(account)
        if balance is None:
            raise not_found(f"ledger account {account!r}")
        page = ledger.statement(account, limit=size, after=after)
        currency = balance.currency
        return AccountResponse(
            account=account,
            currency=currency,
            balance=_money(balance.balance_minor, currency),
            debit_total=_money(balance.debit_minor, currency),
            credit_total=_money(balance.credit_minor, currency),
            entry_count=balance.entry_count,
            entries=[
                LedgerEntryResponse(
                    transaction_id=e.transaction_id,
                    line=e.line,
                    kind=e.kind,
                    payment_order_id=e.payment_order_id,
                    debit=_money(e.debit_minor, e.currency),
                    credit=_money(e.credit_minor, e.currency),
                    event_time=e.event_time,
                    position=e.position,
                )
                for e in page.entries
            ],
            next_cursor=encode_entry_cursor(page.next_key) if page.next_key else None,
        )

    @get(
        "/trial-balance",
        summary="Every account's balance; the total must be zero",
        sync_to_thread=True,
        responses=problem_specs(422, 503),
    )
    def trial_balance(
        self,
        services: NamedDependency[Services],
        min_position: MinPositionQuery = None,
        min_position_header: MinPositionHeader = None,
    ) -> TrialBalanceResponse:
        ledger = LiveViews.on(services.pool).ledger
        ensure_fresh(services, ledger, parse_min_position(min_position, min_position_header))
        position = ledger.position()
        trial = ledger.trial_balance()
        currency = services.settings.currency
        return TrialBalanceResponse(
            currency=currency,
            accounts=[_line(balance) for balance in trial.accounts],
            total=_money(trial.total_minor, currency),
            balanced=trial.total_minor == 0,
            position=position,
        )


class WalletsController(Controller):
    path = "/wallets"
    tags = ["wallets"]

    @get(
        "/{seller_account:str}",
        summary="A seller's wallet: available and pending (payouts in flight)",
        sync_to_thread=True,
        responses=problem_specs(404, 422, 503),
    )
    def wallet(
        self,
        seller_account: FromPath[str],
        services: NamedDependency[Services],
        min_position: MinPositionQuery = None,
        min_position_header: MinPositionHeader = None,
    ) -> WalletResponse:
        wallets = LiveViews.on(services.pool).wallets
        ensure_fresh(services, wallets, parse_min_position(min_position, min_position_header))
        wallet = wallets.wallet(seller_account)
        if wallet is None:
            raise not_found(f"wallet of seller {seller_account!r}")
        return WalletResponse(
            seller_account=wallet.seller_account,
            currency=wallet.currency,
            available=_money(wallet.available_minor, wallet.currency),
            pending=_money(wallet.pending_minor, wallet.currency),
            credit_count=wallet.credit_count,
            updated_at=wallet.updated_at,
            position=wallet.position,
        )
