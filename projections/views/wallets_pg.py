"""Seller wallets in PostgreSQL: tables wallets and wallet_credits (keyed by order)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from payments.projections.core import TrackedEvent, UnapplicableEvent
from payments.projections.pg import (
    Connection,
    PostgresView,
    copy_rows,
    load_terms,
    qualify,
    store_terms,
    terms_ddl,
    tracking_ddl,
)
from payments.projections.views.wallets import (
    NAME,
    Wallet,
    WalletCredit,
    move,
    movements_for,
    wallet_topics,
)

TABLES = ("wallet_order_terms", "wallet_credits", "wallets", "wallets_tracking")
WALLET_COLUMNS = tuple(f.name for f in dataclasses.fields(Wallet))
CREDIT_COLUMNS = tuple(f.name for f in dataclasses.fields(WalletCredit))


class PostgresWallets(PostgresView):
    name = NAME
    topics: frozenset[str] | None = wallet_topics()
    tables = TABLES

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        credits, wallets = qualify(schema, "wallet_credits"), qualify(schema, "wallets")
        return [
            *terms_ddl(schema, "wallet_order_terms"),
            f"""
            CREATE TABLE IF NOT EXISTS {credits} (
                payment_order_id text PRIMARY KEY,
                seller_account text COLLATE "C" NOT NULL,
                amount_minor bigint NOT NULL CHECK (amount_minor > 0),
                currency text NOT NULL,
                event_id text NOT NULL,
                event_time timestamptz NOT NULL,
                position bigint NOT NULL
            )
            """,
            f"CREATE INDEX IF NOT EXISTS wallet_credits_seller ON {credits} "
            "(seller_account, position)",
            f"""
            CREATE TABLE IF NOT EXISTS {wallets} (
                seller_account text COLLATE "C" PRIMARY KEY,
                currency text NOT NULL,
                available_minor bigint NOT NULL CHECK (available_minor >= 0),
                pending_minor bigint NOT NULL CHECK (pending_minor >= 0),
                credit_count bigint NOT NULL,
                updated_at timestamptz NOT NULL,
                position bigint NOT NULL
            )
            """,
            *tracking_ddl(schema, TABLES[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        book = load_terms(conn, self.t("wallet_order_terms"), events)
        known = set(book.by_uuid)
        movements = movements_for(events, book)
        store_terms(conn, self.t("wallet_order_terms"), book, known)
        if not movements:
            return
        credits = [m.credit for m in movements if m.credit is not None]
        order_ids = [c.payment_order_id for c in credits]
        if len(set(order_ids)) != len(order_ids) or self._credited(conn, order_ids):
            raise UnapplicableEvent("an order of this batch is already credited")
        sellers = sorted({m.seller_account for m in movements})
        wallets: dict[str, Wallet | None] = dict.fromkeys(sellers)
        for row in conn.execute(
            f"SELECT {', '.join(WALLET_COLUMNS)} FROM {self.t('wallets')} "
            "WHERE seller_account = ANY(%s)",
            (sellers,),
        ):
            wallets[row[0]] = Wallet(*row)
        for movement in movements:
            wallets[movement.seller_account] = move(wallets[movement.seller_account], movement)
        copy_rows(
            conn,
            self.t("wallet_credits"),
            CREDIT_COLUMNS,
            [tuple(getattr(c, name) for name in CREDIT_COLUMNS) for c in credits],
        )
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in WALLET_COLUMNS[1:])
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.t('wallets')} ({', '.join(WALLET_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(WALLET_COLUMNS))}) "
                f"ON CONFLICT (seller_account) DO UPDATE SET {updates}",
                [
                    tuple(getattr(w, name) for name in WALLET_COLUMNS)
                    for w in wallets.values()
                    if w is not None
                ],
            )

    def _credited(self, conn: Connection, order_ids: list[str]) -> bool:
        return (
            bool(order_ids)
            and conn.execute(
                f"SELECT 1 FROM {self.t('wallet_credits')} "
                "WHERE payment_order_id = ANY(%s) LIMIT 1",
                (order_ids,),
            ).fetchone()
            is not None
        )

    # --- reads -----------------------------------------------------------------------------

    def wallet(self, seller_account: str) -> Wallet | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {', '.join(WALLET_COLUMNS)} FROM {self.t('wallets')} "
                "WHERE seller_account = %s",
                (seller_account,),
            ).fetchone()
        return Wallet(*row) if row else None

    def wallets(self) -> list[Wallet]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(WALLET_COLUMNS)} FROM {self.t('wallets')} "
                "ORDER BY seller_account"
            ).fetchall()
        return [Wallet(*row) for row in rows]

    def credits(self, seller_account: str) -> list[WalletCredit]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(CREDIT_COLUMNS)} FROM {self.t('wallet_credits')} "
                "WHERE seller_account = %s ORDER BY position",
                (seller_account,),
            ).fetchall()
        return [WalletCredit(*row) for row in rows]

    def orders_credited(self, payment_order_ids: Sequence[str]) -> set[str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT payment_order_id FROM {self.t('wallet_credits')} "
                "WHERE payment_order_id = ANY(%s)",
                (list(payment_order_ids),),
            ).fetchall()
        return {row[0] for row in rows}
