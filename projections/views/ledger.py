"""Ledger view: double-entry transactions and entries in integer minor units (DESIGN §6).

One balanced transaction per causing event, keyed by that event's id, exactly once. The
posting rules live in projections/views/postings.py; this module holds the view interface, its
query results and the in-memory implementation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from payments.projections.core import ProjectionView, TrackedEvent, UnapplicableEvent
from payments.projections.views.order_terms import InMemoryTermsView, TermsBook
from payments.projections.views.postings import LedgerTransaction, batch_transactions, ledger_topics

NAME = "ledger"


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """Totals of one account; balance_minor = debits - credits (debit-positive)."""

    account: str
    currency: str
    debit_minor: int
    credit_minor: int
    entry_count: int

    @property
    def balance_minor(self) -> int:
        return self.debit_minor - self.credit_minor


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One ledger entry as a statement shows it."""

    transaction_id: str
    line: int
    account: str
    kind: str
    payment_order_id: str | None
    currency: str
    debit_minor: int
    credit_minor: int
    event_time: datetime
    position: int


@dataclass(frozen=True, slots=True, order=True)
class EntryKey:
    """Keyset position in a statement, oldest first."""

    position: int
    line: int


@dataclass(frozen=True, slots=True)
class StatementPage:
    entries: list[EntryLine]
    next_key: EntryKey | None

    @classmethod
    def of(cls, lines: list[EntryLine], limit: int) -> StatementPage:
        """A statement page from the account's entries after the requested key, oldest first
        (a read asks for `limit + 1` of them): the first `limit`, and the key where the next
        page starts when more follow (None on the last page)."""
        page = lines[:limit]
        more = len(lines) > limit and page
        return cls(page, EntryKey(page[-1].position, page[-1].line) if more else None)


@dataclass(frozen=True, slots=True)
class TrialBalance:
    accounts: list[AccountBalance]

    @property
    def total_minor(self) -> int:
        """Zero in a sound ledger: every transaction balances."""
        return sum(a.balance_minor for a in self.accounts)


class LedgerView(ProjectionView, Protocol):
    def balance(self, account: str) -> AccountBalance | None: ...

    def statement(
        self, account: str, *, limit: int, after: EntryKey | None = None
    ) -> StatementPage:
        """Entries of one account, oldest first."""
        ...

    def trial_balance(self) -> TrialBalance: ...

    def orders_with_postings(self, payment_order_ids: Sequence[str]) -> set[str]:
        """Those of the ids for which a transaction has been posted."""
        ...

    def transactions(self) -> list[LedgerTransaction]:
        """Every transaction with its entries, by position (for audits and tests)."""
        ...


def entry_lines(txn: LedgerTransaction) -> list[EntryLine]:
    return [
        EntryLine(
            transaction_id=txn.transaction_id,
            line=line,
            account=p.account,
            kind=txn.kind,
            payment_order_id=txn.payment_order_id,
            currency=txn.currency,
            debit_minor=p.debit_minor,
            credit_minor=p.credit_minor,
            event_time=txn.event_time,
            position=txn.position,
        )
        for line, p in enumerate(txn.postings, start=1)
    ]


def post_batch(events: Sequence[TrackedEvent], book: TermsBook) -> list[LedgerTransaction]:
    """Fold a batch: remember order terms, and build each event's transaction (pure)."""
    return [txn for _, txn in batch_transactions(events, book)]


class InMemoryLedger(InMemoryTermsView):
    name = NAME
    topics: frozenset[str] | None = ledger_topics()

    def __init__(self) -> None:
        super().__init__()
        self._transactions: dict[str, LedgerTransaction] = {}
        self._entries: dict[str, list[EntryLine]] = defaultdict(list)

    def _fold_with_terms(self, events: Sequence[TrackedEvent], book: TermsBook) -> None:
        posted = post_batch(events, book)
        seen = set(self._transactions)
        for txn in posted:
            if txn.transaction_id in seen:
                raise UnapplicableEvent(f"transaction {txn.transaction_id} already posted")
            seen.add(txn.transaction_id)
        for txn in posted:
            self._transactions[txn.transaction_id] = txn
            for line in entry_lines(txn):
                self._entries[line.account].append(line)

    def balance(self, account: str) -> AccountBalance | None:
        lines = self._entries.get(account)
        if not lines:
            return None
        return AccountBalance(
            account=account,
            currency=lines[0].currency,
            debit_minor=sum(e.debit_minor for e in lines),
            credit_minor=sum(e.credit_minor for e in lines),
            entry_count=len(lines),
        )

    def statement(
        self, account: str, *, limit: int, after: EntryKey | None = None
    ) -> StatementPage:
        lines = [
            e
            for e in self._entries.get(account, [])
            if after is None or EntryKey(e.position, e.line) > after
        ]
        return StatementPage.of(lines, limit)

    def trial_balance(self) -> TrialBalance:
        balances = (self.balance(account) for account in sorted(self._entries))
        return TrialBalance([b for b in balances if b is not None])

    def orders_with_postings(self, payment_order_ids: Sequence[str]) -> set[str]:
        posted = {t.payment_order_id for t in self._transactions.values()}
        return {i for i in payment_order_ids if i in posted}

    def transactions(self) -> list[LedgerTransaction]:
        return sorted(self._transactions.values(), key=lambda t: t.position)
