"""The ledger view in PostgreSQL: transactions, entries (by account and position), balances."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from payments.projections.core import TrackedEvent, UnapplicableEvent
from payments.projections.pg import (
    Connection,
    PostgresView,
    copy_rows,
    fetch_all,
    fetch_one,
    fold_with_terms,
    qualify,
    repeated_or_stored,
    row_values,
    terms_ddl,
    tracking_ddl,
    upsert_rows,
)
from payments.projections.views.ledger import (
    NAME,
    AccountBalance,
    EntryKey,
    EntryLine,
    StatementPage,
    TrialBalance,
    entry_lines,
    post_batch,
)
from payments.projections.views.postings import LedgerTransaction, Posting, ledger_topics

TABLES = (
    "ledger_order_terms",
    "ledger_transactions",
    "ledger_entries",
    "ledger_accounts",
    "ledger_tracking",
)
ENTRY_COLUMNS = (
    "transaction_id",
    "line",
    "account",
    "kind",
    "payment_order_id",
    "currency",
    "debit_minor",
    "credit_minor",
    "event_time",
    "position",
)


class PostgresLedger(PostgresView):
    name = NAME
    topics: frozenset[str] | None = ledger_topics()
    tables = TABLES

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        transactions = qualify(schema, "ledger_transactions")
        entries = qualify(schema, "ledger_entries")
        accounts = qualify(schema, "ledger_accounts")
        return [
            *terms_ddl(schema, "ledger_order_terms"),
            f"""
            CREATE TABLE IF NOT EXISTS {transactions} (
                transaction_id text PRIMARY KEY,
                kind text NOT NULL,
                payment_order_id text,
                currency text NOT NULL,
                event_time timestamptz NOT NULL,
                position bigint NOT NULL
            )
            """,
            f"CREATE INDEX IF NOT EXISTS ledger_transactions_order ON {transactions} "
            "(payment_order_id)",
            f"CREATE INDEX IF NOT EXISTS ledger_transactions_position ON {transactions} (position)",
            f"""
            CREATE TABLE IF NOT EXISTS {entries} (
                transaction_id text NOT NULL,
                line smallint NOT NULL,
                account text COLLATE "C" NOT NULL,
                kind text NOT NULL,
                payment_order_id text,
                currency text NOT NULL,
                debit_minor bigint NOT NULL CHECK (debit_minor >= 0),
                credit_minor bigint NOT NULL CHECK (credit_minor >= 0),
                event_time timestamptz NOT NULL,
                position bigint NOT NULL,
                PRIMARY KEY (transaction_id, line),
                CHECK ((debit_minor > 0) <> (credit_minor > 0))
            )
            """,
            f"CREATE INDEX IF NOT EXISTS ledger_entries_account ON {entries} "
            "(account, position, line)",
            # Balances as of an instant (projections/audit/as_of.py): one index-only range scan.
            f"CREATE INDEX IF NOT EXISTS ledger_entries_account_time ON {entries} "
            "(account, event_time) INCLUDE (currency, debit_minor, credit_minor, position)",
            f"""
            CREATE TABLE IF NOT EXISTS {accounts} (
                account text COLLATE "C" PRIMARY KEY,
                currency text NOT NULL,
                debit_minor bigint NOT NULL,
                credit_minor bigint NOT NULL,
                entry_count bigint NOT NULL,
                position bigint NOT NULL
            )
            """,
            *tracking_ddl(schema, TABLES[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        posted = fold_with_terms(conn, self.t("ledger_order_terms"), events, post_batch)
        if not posted:
            return
        ids = [t.transaction_id for t in posted]
        if repeated_or_stored(conn, self.t("ledger_transactions"), "transaction_id", ids):
            raise UnapplicableEvent("a transaction of this batch is already posted")
        copy_rows(
            conn,
            self.t("ledger_transactions"),
            ("transaction_id", "kind", "payment_order_id", "currency", "event_time", "position"),
            [
                (t.transaction_id, t.kind, t.payment_order_id, t.currency, t.event_time, t.position)
                for t in posted
            ],
        )
        lines = [line for txn in posted for line in entry_lines(txn)]
        copy_rows(
            conn,
            self.t("ledger_entries"),
            ENTRY_COLUMNS,
            [row_values(line, ENTRY_COLUMNS) for line in lines],
        )
        # An account's row: its currency as first written, totals added (one row a
        # statement per account, as ON CONFLICT (account) wants).
        totals: dict[str, list[Any]] = {}
        for line in sorted(lines, key=lambda line: (line.account, line.currency)):
            total = totals.setdefault(line.account, [line.currency, 0, 0, 0, 0])
            total[1] += line.debit_minor
            total[2] += line.credit_minor
            total[3] += 1
            total[4] = max(total[4], line.position)
        upsert_rows(
            conn,
            self.t("ledger_accounts"),
            ("account", "currency", "debit_minor", "credit_minor", "entry_count", "position"),
            "account",
            [(account, *total) for account, total in sorted(totals.items())],
            adding=("debit_minor", "credit_minor", "entry_count"),
        )

    # --- reads -----------------------------------------------------------------------------

    def balance(self, account: str) -> AccountBalance | None:
        row = fetch_one(
            self.pool,
            "SELECT account, currency, debit_minor, credit_minor, entry_count "
            f"FROM {self.t('ledger_accounts')} WHERE account = %s",
            (account,),
        )
        return AccountBalance(*row) if row else None

    def statement(
        self, account: str, *, limit: int, after: EntryKey | None = None
    ) -> StatementPage:
        start = (after.position, after.line) if after else (-1, 0)
        rows = fetch_all(
            self.pool,
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM {self.t('ledger_entries')} "
            "WHERE account = %s AND (position, line) > (%s, %s) "
            "ORDER BY position, line LIMIT %s",
            (account, *start, limit + 1),
        )
        return StatementPage.of([_entry(row) for row in rows], limit)

    def balance_through(
        self,
        account: str,
        key: EntryKey,
        instant: datetime | None = None,
        view_position: int | None = None,
    ) -> int:
        """Debits minus credits of the account's entries up to `key` (a statement page's
        opening balance); for a past view, of events by `instant` up to `view_position`."""
        row = fetch_one(
            self.pool,
            "SELECT coalesce(sum(debit_minor - credit_minor), 0) "
            f"FROM {self.t('ledger_entries')} WHERE account = %s "
            "AND (position, line) <= (%s, %s) "
            "AND (%s::timestamptz IS NULL OR event_time <= %s) "
            "AND (%s::bigint IS NULL OR position <= %s)",
            (account, key.position, key.line, instant, instant, view_position, view_position),
        )
        return int(row[0]) if row else 0

    def trial_balance(self) -> TrialBalance:
        rows = fetch_all(
            self.pool,
            "SELECT account, currency, debit_minor, credit_minor, entry_count "
            f"FROM {self.t('ledger_accounts')} ORDER BY account",
        )
        return TrialBalance([AccountBalance(*row) for row in rows])

    def orders_with_postings(self, payment_order_ids: Sequence[str]) -> set[str]:
        return self.stored_keys("ledger_transactions", "payment_order_id", payment_order_ids)

    def transactions(self) -> list[LedgerTransaction]:
        with self.pool.connection() as conn:
            heads = conn.execute(
                "SELECT transaction_id, kind, payment_order_id, currency, event_time, position "
                f"FROM {self.t('ledger_transactions')} ORDER BY position"
            ).fetchall()
            entries: dict[str, list[Posting]] = defaultdict(list)
            for txn_id, account, debit, credit in conn.execute(
                f"SELECT transaction_id, account, debit_minor, credit_minor "
                f"FROM {self.t('ledger_entries')} ORDER BY transaction_id, line"
            ):
                entries[txn_id].append(Posting(account, debit, credit))
        return [
            LedgerTransaction(
                transaction_id=txn_id,
                kind=kind,
                payment_order_id=order_id,
                currency=currency,
                event_time=event_time,
                position=position,
                postings=tuple(entries[txn_id]),
            )
            for txn_id, kind, order_id, currency, event_time, position in heads
        ]


def _entry(row: Sequence[Any]) -> EntryLine:
    return EntryLine(*row)
