"""`sellers`: each seller's KYC and suspension state, for listing (GET /sellers, keyset by
account) and for the KYC job's work list (sellers whose KYC awaits the PSP). No personal data
is copied here: legal name and contact stay sealed in the Seller's events (#17)."""

from __future__ import annotations

from collections.abc import Sequence

from payments.domain.seller import Seller
from payments.projections.core import TrackedEvent
from payments.projections.pg import Connection, PostgresView, fetch_all, qualify, tracking_ddl

SELLERS_NAME = "sellers"
AWAITING = ("unverified", "pending")


class SellersView(PostgresView):
    name = SELLERS_NAME
    topics: frozenset[str] | None = frozenset(
        str(cls.TOPIC)
        for cls in (
            Seller.Registered,
            Seller.KycSubmitted,
            Seller.KycDecided,
            Seller.Suspended,
            Seller.Reinstated,
        )
    )
    tables = ("sellers", "sellers_tracking")

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {qualify(schema, "sellers")} (
                seller_uuid uuid PRIMARY KEY,
                seller_account text NOT NULL UNIQUE,
                kyc text NOT NULL,
                suspended boolean NOT NULL DEFAULT false
            )
            """,
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        table = self.t("sellers")
        for tracked in events:
            e = tracked.event
            if isinstance(e, Seller.Registered):
                conn.execute(
                    f"INSERT INTO {table} (seller_uuid, seller_account, kyc) "
                    "VALUES (%s, %s, 'unverified') ON CONFLICT DO NOTHING",
                    (e.originator_id, e.seller_account),
                )
            elif isinstance(e, Seller.KycSubmitted | Seller.KycDecided):
                conn.execute(
                    f"UPDATE {table} SET kyc = %s WHERE seller_uuid = %s",
                    (e.status, e.originator_id),
                )
            elif isinstance(e, Seller.Suspended | Seller.Reinstated):
                conn.execute(
                    f"UPDATE {table} SET suspended = %s WHERE seller_uuid = %s",
                    (isinstance(e, Seller.Suspended), e.originator_id),
                )

    def accounts(self, after: str, limit: int, kyc: str | None = None) -> list[str]:
        """Seller accounts after `after` in account order (keyset), optionally of one KYC."""
        rows = fetch_all(
            self.pool,
            f"SELECT seller_account FROM {self.t('sellers')} WHERE seller_account > %s "
            "AND (%s::text IS NULL OR kyc = %s) ORDER BY seller_account LIMIT %s",
            (after, kyc, kyc, limit),
        )
        return [row[0] for row in rows]

    def awaiting_kyc(self, limit: int) -> list[str]:
        """Sellers whose KYC the PSP has still to accept or decide."""
        rows = fetch_all(
            self.pool,
            f"SELECT seller_account FROM {self.t('sellers')} WHERE kyc = ANY(%s) "
            "ORDER BY seller_account LIMIT %s",
            (list(AWAITING), limit),
        )
        return [row[0] for row in rows]

    def counts(self) -> dict[tuple[str, bool], int]:
        """How many sellers per (KYC status, suspended)."""
        rows = fetch_all(
            self.pool,
            f"SELECT kyc, suspended, count(*) FROM {self.t('sellers')} GROUP BY 1, 2",
        )
        return {(row[0], bool(row[1])): int(row[2]) for row in rows}
