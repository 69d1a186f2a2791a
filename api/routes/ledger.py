"""Reads of the ledger: account balances and statements, the trial balance (now or as of)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

import msgspec
from litestar import Controller, get

from payments.api.as_of import as_of_unavailable, parse_as_of
from payments.api.auth import access
from payments.api.openapi import spec
from payments.api.parameters import (
    AccountPath,
    AsOfQuery,
    CallerDep,
    CursorQuery,
    LimitQuery,
    ServicesDep,
)
from payments.api.reads import FreshDep, invalid, not_found
from payments.domain.api_key import Role
from payments.domain.money import format_minor
from payments.projections.audit import as_of as history
from payments.projections.audit.instants import AsOfUnavailable
from payments.projections.catalog import LiveViews
from payments.projections.views.ledger import AccountBalance, EntryKey, StatementPage, TrialBalance
from payments.runtime.services import Services


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


def encode_entry_cursor(key: EntryKey) -> str:
    return base64.urlsafe_b64encode(f"{key.position}.{key.line}".encode()).decode().rstrip("=")


def decode_entry_cursor(text: str) -> EntryKey:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        position, line = (int(part) for part in raw.split("."))
    except (binascii.Error, ValueError):
        raise invalid("cursor", "is not a cursor this API returned") from None
    return EntryKey(position, line)


def trial_balance_line(balance: AccountBalance) -> TrialBalanceLine:
    return TrialBalanceLine(
        account=balance.account,
        debit_total=format_minor(balance.debit_minor, balance.currency),
        credit_total=format_minor(balance.credit_minor, balance.currency),
        balance=format_minor(balance.balance_minor, balance.currency),
    )


@dataclass(frozen=True, slots=True)
class AccountRead:
    """An account's totals and a page of its statement; `opening_minor` is the balance before
    the page (what the entries up to the cursor sum to), for a running balance."""

    balance: AccountBalance
    page: StatementPage
    opening_minor: int


def read_account(
    services: Services, account: str, instant: datetime | None, size: int, after: EntryKey | None
) -> AccountRead | None:
    """The account now or, with `instant`, as of then (replayed past the view); None if it
    had no entries (by then)."""
    ledger = LiveViews.on(services.pool).ledger
    if instant is None:
        balance = ledger.balance(account)
        if balance is None:
            return None
        page = ledger.statement(account, limit=size, after=after)
        opening = ledger.balance_through(account, after) if after else 0
        return AccountRead(balance, page, opening)
    try:
        found, state = history.account_as_of(services.pool, services.application, account, instant)
        if found is None:
            return None
        page = history.statement_as_of(
            services.pool, state, account, instant, limit=size, after=after
        )
    except AsOfUnavailable as error:
        raise as_of_unavailable(error) from None
    opening = 0
    if after is not None:
        stored = ledger.balance_through(account, after, instant, state.view_position)
        opening = stored + sum(
            line.debit_minor - line.credit_minor
            for line in state.tail
            if line.account == account
            and (line.position, line.line) <= (after.position, after.line)
        )
    return AccountRead(found, page, opening)


def read_trial_balance(services: Services, instant: datetime | None) -> tuple[TrialBalance, int]:
    """The trial balance and the log position it accounts for, now or as of `instant`."""
    if instant is None:
        ledger = LiveViews.on(services.pool).ledger
        return ledger.trial_balance(), ledger.position()
    try:
        trial, state = history.trial_balance_as_of(services.pool, services.application, instant)
    except AsOfUnavailable as error:
        raise as_of_unavailable(error) from None
    return trial, state.head


class LedgerController(Controller):
    path = "/ledger"
    tags = ["ledger"]

    @get(
        "/accounts/{account:str}",
        **spec("getLedgerAccount", "An account's balance and statement", problems=(404, 422, 503)),
        description="Accounts: psp_receivable, seller:{seller_account}, payouts_in_transit, "
        "psp_fees. Balance is debits minus credits. Statement pages: limit (1-200) and cursor. "
        "With ?as_of= the balance and entries of events recorded at or before that instant.",
        **access(Role.FINANCE, Role.SELLER),
    )
    def account(
        self,
        account: AccountPath,
        services: ServicesDep,
        caller: CallerDep,
        limit: LimitQuery = 50,
        cursor: CursorQuery = None,
        *,
        fresh: FreshDep,
        as_of: AsOfQuery = None,
    ) -> AccountResponse:
        if not caller.may_read_account(account):
            raise not_found(f"ledger account {account!r}")  # another seller's: not revealed
        size = limit
        after = decode_entry_cursor(cursor) if cursor is not None else None
        fresh.wait(LiveViews.on(services.pool).ledger)
        found = read_account(services, account, parse_as_of(as_of), size, after)
        if found is None:
            raise not_found(f"ledger account {account!r}")
        balance, page = found.balance, found.page
        currency = balance.currency
        return AccountResponse(
            account=account,
            currency=currency,
            balance=format_minor(balance.balance_minor, currency),
            debit_total=format_minor(balance.debit_minor, currency),
            credit_total=format_minor(balance.credit_minor, currency),
            entry_count=balance.entry_count,
            entries=[
                LedgerEntryResponse(
                    transaction_id=e.transaction_id,
                    line=e.line,
                    kind=e.kind,
                    payment_order_id=e.payment_order_id,
                    debit=format_minor(e.debit_minor, e.currency),
                    credit=format_minor(e.credit_minor, e.currency),
                    event_time=e.event_time,
                    position=e.position,
                )
                for e in page.entries
            ],
            next_cursor=encode_entry_cursor(page.next_key) if page.next_key else None,
        )

    @get(
        "/trial-balance",
        **spec(
            "getTrialBalance",
            "Every account's balance; the total must be zero",
            problems=(422, 503),
        ),
        description="With ?as_of= as of that instant; `position` is then the log position "
        "the answer accounts for.",
        **access(Role.FINANCE),
    )
    def trial_balance(
        self, services: ServicesDep, fresh: FreshDep, as_of: AsOfQuery = None
    ) -> TrialBalanceResponse:
        fresh.wait(LiveViews.on(services.pool).ledger)
        trial, position = read_trial_balance(services, parse_as_of(as_of))
        currency = services.settings.currency
        return TrialBalanceResponse(
            currency=currency,
            accounts=[trial_balance_line(balance) for balance in trial.accounts],
            total=format_minor(trial.total_minor, currency),
            balanced=trial.total_minor == 0,
            position=position,
        )
