"""Ledger: the trial balance (summing to zero) and an account's statement with its running
balance, now or as of a past instant. Finance reads every account; a seller key only its own
(`seller:{s}`, `seller:{s}:pending`), whatever the address asks. The same reads as
GET /ledger/trial-balance and GET /ledger/accounts/{account}."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode

from litestar import get
from litestar.response import Redirect, Template

from payments.api.console.orders import PAGE as ORDERS
from payments.api.console.orders import order_path
from payments.api.console.pages import CallerDep, Field, Page, ServicesDep, as_of_of, given, render
from payments.api.parameters import AccountPath
from payments.api.reads import not_found
from payments.api.routes.ledger import (
    AccountRead,
    decode_entry_cursor,
    encode_entry_cursor,
    read_account,
    read_trial_balance,
    trial_balance_line,
)
from payments.domain.api_key import Role
from payments.domain.money import format_minor
from payments.projections.views.postings import seller_account, seller_pending_account

PAGE = Page.of("/console/ledger", "Ledger", Role.FINANCE, Role.SELLER)
STATEMENT_SIZE = 50


def account_path(account: str, as_of: datetime | None = None, cursor: str | None = None) -> str:
    path = f"{PAGE.path}/accounts/{quote(account, safe=':')}"
    kept = given(as_of=as_of.isoformat() if as_of else None, cursor=cursor)
    return f"{path}?{urlencode(kept)}" if kept else path


@get("/ledger", sync_to_thread=True, **PAGE.access)
def ledger_page(
    caller: CallerDep, services: ServicesDep, account: Field = None, as_of: Field = None
) -> Template | Redirect:
    instant = as_of_of(as_of)
    if account and account.strip():
        return Redirect(account_path(account.strip(), instant), status_code=303)
    trial = position = None
    if caller.role is Role.SELLER:
        own = (
            seller_account(str(caller.seller_account)),
            seller_pending_account(str(caller.seller_account)),
        )
        found = [read_account(services, a, instant, 1, None) for a in own]
        balances = [f.balance for f in found if f is not None]
    else:
        trial, position = read_trial_balance(services, instant)
        balances = trial.accounts
    currency = services.settings.currency
    return render(
        "ledger.html",
        caller,
        PAGE,
        as_of=instant,
        lines=[trial_balance_line(b) for b in balances],
        links={b.account: account_path(b.account, instant) for b in balances},
        total=format_minor(trial.total_minor, currency) if trial else None,
        balanced=trial is not None and trial.total_minor == 0,
        position=position,
        may_search=caller.role is not Role.SELLER,
    )


@get("/ledger/accounts/{account:str}", sync_to_thread=True, **PAGE.access)
def statement_page(
    account: AccountPath,
    caller: CallerDep,
    services: ServicesDep,
    cursor: Field = None,
    as_of: Field = None,
) -> Template:
    instant = as_of_of(as_of)
    if not caller.may_read_account(account):
        raise not_found(f"ledger account {account!r}")  # another seller's: not revealed
    after = decode_entry_cursor(cursor) if cursor else None
    found = read_account(services, account, instant, STATEMENT_SIZE, after)
    if found is None:
        raise not_found(f"ledger account {account!r}")
    more = found.page.next_key
    orders = {e.payment_order_id for e in found.page.entries if e.payment_order_id}
    return render(
        "ledger_account.html",
        caller,
        PAGE,
        as_of=instant,
        account=account,
        balance=trial_balance_line(found.balance),
        currency=found.balance.currency,
        entry_count=found.balance.entry_count,
        entries=running_balances(found),
        more=account_path(account, instant, encode_entry_cursor(more)) if more else None,
        first_page=after is None,
        opening=format_minor(found.opening_minor, found.balance.currency),
        order_links={o: order_path(o, instant) for o in orders}
        if ORDERS.offered_to(caller)
        else {},
    )


def running_balances(found: AccountRead) -> list[dict[str, object]]:
    """The page's entries, each with the balance (debits - credits) after it."""
    running, rows = found.opening_minor, []
    for entry in found.page.entries:
        running += entry.debit_minor - entry.credit_minor
        rows.append(
            {
                "entry": entry,
                "debit": format_minor(entry.debit_minor, entry.currency)
                if entry.debit_minor
                else "",
                "credit": format_minor(entry.credit_minor, entry.currency)
                if entry.credit_minor
                else "",
                "running": format_minor(running, entry.currency),
            }
        )
    return rows


HANDLERS = [ledger_page, statement_page]
