"""Seller wallets in PostgreSQL: tables seller_balances and wallet_pay_ins (keyed by order).

ADR 0014 changed what a wallet holds (pending is earned-not-settled, in_transit is payouts), so
the view lives in new tables and the old ones (wallets, wallet_credits, wallet_order_terms,
wallets_tracking) are dropped: the runner rebuilds the new ones from the event log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

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
from payments.projections.views.wallets import (
    NAME,
    Wallet,
    WalletCredit,
    move,
    movements_for,
    wallet_topics,
)

TABLES = ("wallet_terms", "wallet_pay_ins", "seller_balances", "seller_balances_tracking")
RETIRED = ("wallet_order_terms", "wallet_credits", "wallets", "wallets_tracking")
WALLET_COLUMNS = tuple(f.name for f in dataclasses.fields(Wallet))
CREDIT_COLUMNS = tuple(f.name for f in dataclasses.fields(WalletCredit))


class PostgresWallets(PostgresView):
    name = NAME
    topics: frozenset[str] | None = wallet_topics()
    tables = TABLES

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        credits, wallets = qualify(schema, "wallet_pay_ins"), qualify(schema, "seller_balances")
        return [
            *(f"DROP TABLE IF EXISTS {qualify(schema, table)}" for table in RETIRED),
            *terms_ddl(schema, "wallet_terms"),
            f"""
            CREATE TABLE IF NOT EXISTS {credits} (
                payment_order_id text PRIMARY KEY,
                seller_account text COLLATE "C" NOT NULL,
                amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
                currency text NOT NULL,
                event_id text NOT NULL,
                event_time timestamptz NOT NULL,
                position bigint NOT NULL,
                released_at timestamptz
            )
            """,
            f"CREATE INDEX IF NOT EXISTS wallet_pay_ins_seller ON {credits} "
            "(seller_account, position)",
            f"CREATE INDEX IF NOT EXISTS wallet_pay_ins_unreleased ON {credits} "
            "(event_time, payment_order_id) WHERE released_at IS NULL",
            f"""
            CREATE TABLE IF NOT EXISTS {wallets} (
                seller_account text COLLATE "C" PRIMARY KEY,
                currency text NOT NULL,
                pending_minor bigint NOT NULL CHECK (pending_minor >= 0),
                available_minor bigint NOT NULL,
                in_transit_minor bigint NOT NULL CHECK (in_transit_minor >= 0),
                paid_out_minor bigint NOT NULL CHECK (paid_out_minor >= 0),
                credit_count bigint NOT NULL,
                negative_since timestamptz,
                updated_at timestamptz NOT NULL,
                position bigint NOT NULL
            )
            """,
            f"CREATE INDEX IF NOT EXISTS seller_balances_negative ON {wallets} "
            "(seller_account) WHERE pending_minor + available_minor < 0",
            *tracking_ddl(schema, TABLES[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        movements = fold_with_terms(conn, self.t("wallet_terms"), events, movements_for)
        if not movements:
            return
        credits = [m.credit for m in movements if m.credit is not None]
        order_ids = [c.payment_order_id for c in credits]
        if repeated_or_stored(conn, self.t("wallet_pay_ins"), "payment_order_id", order_ids):
            raise UnapplicableEvent("an order of this batch is already credited")
        sellers = sorted({m.seller_account for m in movements})
        wallets: dict[str, Wallet | None] = dict.fromkeys(sellers)
        for row in conn.execute(
            f"SELECT {', '.join(WALLET_COLUMNS)} FROM {self.t('seller_balances')} "
            "WHERE seller_account = ANY(%b)",
            (sellers,),
        ):
            wallets[row[0]] = Wallet(*row)
        for movement in movements:
            wallets[movement.seller_account] = move(wallets[movement.seller_account], movement)
        copy_rows(
            conn,
            self.t("wallet_pay_ins"),
            CREDIT_COLUMNS,
            [row_values(c, CREDIT_COLUMNS) for c in credits],
        )
        released = [(m.event_time, m.released) for m in movements if m.released is not None]
        if released:
            with conn.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {self.t('wallet_pay_ins')} SET released_at = %s "
                    "WHERE payment_order_id = %s",
                    released,
                )
        upsert_rows(
            conn,
            self.t("seller_balances"),
            WALLET_COLUMNS,
            "seller_account",
            [row_values(w, WALLET_COLUMNS) for w in wallets.values() if w is not None],
        )

    # --- reads -----------------------------------------------------------------------------

    def wallet(self, seller_account: str) -> Wallet | None:
        row = fetch_one(
            self.pool,
            f"SELECT {', '.join(WALLET_COLUMNS)} FROM {self.t('seller_balances')} "
            "WHERE seller_account = %s",
            (seller_account,),
        )
        return Wallet(*row) if row else None

    def wallets(self) -> list[Wallet]:
        rows = fetch_all(
            self.pool,
            f"SELECT {', '.join(WALLET_COLUMNS)} FROM {self.t('seller_balances')} "
            "ORDER BY seller_account",
        )
        return [Wallet(*row) for row in rows]

    def credits(self, seller_account: str) -> list[WalletCredit]:
        rows = fetch_all(
            self.pool,
            f"SELECT {', '.join(CREDIT_COLUMNS)} FROM {self.t('wallet_pay_ins')} "
            "WHERE seller_account = %s ORDER BY position",
            (seller_account,),
        )
        return [WalletCredit(*row) for row in rows]

    def unreleased_before(self, instant: datetime, limit: int, after: str = "") -> list[str]:
        rows = fetch_all(
            self.pool,
            f"SELECT payment_order_id FROM {self.t('wallet_pay_ins')} "
            "WHERE released_at IS NULL AND event_time <= %s AND payment_order_id > %s "
            "ORDER BY payment_order_id LIMIT %s",
            (instant, after, limit),
        )
        return [row[0] for row in rows]

    def negative(self, limit: int, after: str | None = None) -> list[Wallet]:
        rows = fetch_all(
            self.pool,
            f"SELECT {', '.join(WALLET_COLUMNS)} FROM {self.t('seller_balances')} "
            "WHERE pending_minor + available_minor < 0 AND seller_account > %s "
            "ORDER BY seller_account LIMIT %s",
            (after or "", limit),
        )
        return [Wallet(*row) for row in rows]

    def orders_credited(self, payment_order_ids: Sequence[str]) -> set[str]:
        return self.stored_keys("wallet_pay_ins", "payment_order_id", payment_order_ids)
