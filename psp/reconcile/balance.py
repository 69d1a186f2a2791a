"""The PSP balance check (issue #15): what the PSP says it holds for us against our ledger.

Per currency, the PSP's `available` (`GET /v1/balance`: every line of its settlement files, as
soon as it is final) must equal what our ledger says the PSP settled for us:

    psp_balance + bank + not_reconciled

- `psp_balance`: settled and held at the PSP (booked line by line by reconciliation; a payout
  of ours leaves it when we record it paid, as the PSP's Balancetransfer line does).
- `bank`: what the PSP's files reported paid to our bank (MerchantPayout lines). The sandbox
  never pays it out: its available keeps it, so the check counts it as still at the PSP (a PSP
  whose available drops when it pays our bank would be compared without it:
  `count_bank=False`).
- `not_reconciled`: what reconciling the PSP's files not reconciled yet would move on those
  two accounts (today's file, and every day of the window not reconciled): a dry run of each,
  so the lines we would book count and the lines that would be exceptions do not.

So the difference is what no reconciled or reconcilable line of ours explains: a charge the
PSP made that we never recorded, a line booked with a wrong amount, a ledger adjustment.
`pending` (charges, refunds and payouts not final at the PSP) is shown, not compared: our
ledger moves when we record their outcome. `psp_receivable` (ours, not settled yet) is shown
as `unsettled`. A movement at the PSP during the check can show once; the next check clears it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from psycopg_pool import ConnectionPool

from payments.domain.reconciliation.accounts import BANK, PSP_BALANCE, PSP_RECEIVABLE
from payments.domain.reconciliation.memory import total_entries
from payments.projections.pg import fetch_all
from payments.psp.answers import PspBalance, SettlementUnavailable
from payments.psp.reconcile.runs import Reconciler
from payments.psp.settlement import SettlementFormatError

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS psp_balance_checks (
        checked_at timestamptz NOT NULL,
        currency text NOT NULL,
        psp_available_minor bigint NOT NULL,
        psp_pending_minor bigint NOT NULL,
        ours_minor bigint NOT NULL,
        difference_minor bigint NOT NULL,
        detail jsonb NOT NULL,
        PRIMARY KEY (checked_at, currency)
    )
    """,
]


class NoPspConfigured(RuntimeError):
    """This deployment has no PSP (PAYMENTS_PSP_URL): there is no balance to compare."""


LedgerBalance = Callable[[str], int]  # an account's balance, debit-positive (0: no entries)


class BalancePsp(Protocol):
    def balance(self) -> PspBalance: ...


@dataclass(frozen=True, slots=True)
class CurrencyCheck:
    """One currency's figures, in minor units."""

    currency: str
    psp_available_minor: int
    psp_pending_minor: int
    psp_balance_minor: int
    bank_minor: int
    not_reconciled_minor: int
    unsettled_minor: int

    @property
    def ours_minor(self) -> int:
        return self.psp_balance_minor + self.bank_minor + self.not_reconciled_minor

    @property
    def difference_minor(self) -> int:
        """The PSP's available minus ours: + the PSP holds more than we can account for."""
        return self.psp_available_minor - self.ours_minor

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "psp_available_minor": self.psp_available_minor,
            "psp_pending_minor": self.psp_pending_minor,
            "ours_minor": self.ours_minor,
            "psp_balance_minor": self.psp_balance_minor,
            "bank_minor": self.bank_minor,
            "not_reconciled_minor": self.not_reconciled_minor,
            "unsettled_minor": self.unsettled_minor,
            "difference_minor": self.difference_minor,
        }


@dataclass(frozen=True)
class BalanceCheck:
    checked_at: datetime
    currencies: list[CurrencyCheck]
    days_read: list[date] = field(default_factory=list)  # files dry-run for not_reconciled
    days_unavailable: dict[date, str] = field(default_factory=dict)  # not had: not counted

    def difference(self, currency: str) -> int:
        for check in self.currencies:
            if check.currency == currency:
                return check.difference_minor
        return 0

    @property
    def balanced(self) -> bool:
        return not self.days_unavailable and all(
            check.difference_minor == 0 for check in self.currencies
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "balanced": self.balanced,
            "currencies": [check.as_dict() for check in self.currencies],
            "days_read": [day.isoformat() for day in self.days_read],
            "days_unavailable": {
                day.isoformat(): why for day, why in self.days_unavailable.items()
            },
        }


def days_to_read(reconciler: Reconciler, today: date) -> list[date]:
    """The days whose lines the PSP may count and we have not reconciled: every day of the
    window not reconciled yet, and today."""
    due: list[date] = []
    window = reconciler.window(today)
    if window is not None and reconciler.days is not None:
        due = reconciler.days.due(*window)
    return sorted({*due, today})


def not_reconciled_minor(reconciler: Reconciler, day: date) -> int:
    """What reconciling the PSP's file of `day` would move on psp_balance and bank (a dry run:
    nothing recorded); SettlementUnavailable or SettlementFormatError when it cannot be had."""
    outcome = reconciler.reconcile_psp_file(day, dry_run=True)
    bookings = [booking for chunk in outcome.run.settled for booking in chunk.booked()]
    entries = total_entries(bookings)
    return entries.get(PSP_BALANCE, 0) + entries.get(BANK, 0)


def check_balance(
    psp: BalancePsp,
    ledger_balance: LedgerBalance,
    reconciler: Reconciler,
    *,
    now: datetime | None = None,
    count_bank: bool = True,
) -> BalanceCheck:
    """Ask the PSP for its balance, then account for it from our ledger (module docstring)."""
    moment = now or datetime.now(UTC)
    answer = psp.balance()  # first: a line made during the check is then in the files too
    ours = reconciler.currency
    pending_lines = 0
    read: list[date] = []
    unavailable: dict[date, str] = {}
    for day in days_to_read(reconciler, moment.date()):
        try:
            pending_lines += not_reconciled_minor(reconciler, day)
        except (SettlementUnavailable, SettlementFormatError) as error:
            unavailable[day] = str(error)
            continue
        read.append(day)
    checks = []
    for currency in sorted({ours, *answer.available, *answer.pending}):
        mine = currency == ours
        checks.append(
            CurrencyCheck(
                currency=currency,
                psp_available_minor=answer.available.get(currency, 0),
                psp_pending_minor=answer.pending.get(currency, 0),
                psp_balance_minor=ledger_balance(PSP_BALANCE) if mine else 0,
                bank_minor=ledger_balance(BANK) if mine and count_bank else 0,
                not_reconciled_minor=pending_lines if mine else 0,
                unsettled_minor=ledger_balance(PSP_RECEIVABLE) if mine else 0,
            )
        )
    return BalanceCheck(moment, checks, read, unavailable)


class BalanceChecks:
    """The recorded checks (an operational table, like reconciliation_days: what the job
    found, not what happened to money)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def record(self, check: BalanceCheck) -> None:
        from psycopg.types.json import Jsonb

        with self.pool.connection() as conn, conn.transaction():
            for currency in check.currencies:
                conn.execute(
                    "INSERT INTO psp_balance_checks (checked_at, currency, psp_available_minor,"
                    " psp_pending_minor, ours_minor, difference_minor, detail)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (
                        check.checked_at, currency.currency, currency.psp_available_minor,
                        currency.psp_pending_minor, currency.ours_minor,
                        currency.difference_minor, Jsonb(check.as_dict()),
                    ),
                )  # fmt: skip

    def latest_differences(self) -> dict[str, int]:
        """The difference of the latest check, per currency."""
        rows = fetch_all(
            self.pool,
            "SELECT DISTINCT ON (currency) currency, difference_minor"
            " FROM psp_balance_checks ORDER BY currency, checked_at DESC",
        )
        return {str(row[0]): int(row[1]) for row in rows}


def describe(check: BalanceCheck) -> str:
    """One line per currency, for a job's result and a log line (minor units)."""
    parts = [
        f"{c.currency}: PSP available {c.psp_available_minor}, ours {c.ours_minor}, "
        f"difference {c.difference_minor}"
        for c in check.currencies
    ]
    if check.days_unavailable:
        days = ", ".join(day.isoformat() for day in sorted(check.days_unavailable))
        parts.append(f"files not had (their lines not counted): {days}")
    return "; ".join(parts)
