"""The PSP balance check's pieces without a PSP: reading its balance, and the arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import BinaryIO

import pytest

from payments.domain.application import CheckoutPolicy, PaymentsApplication
from payments.domain.reconciliation_commands import ReconciliationCommands
from payments.psp.answers import BalanceUnavailable, PspBalance, PspLookup, balance_of
from payments.psp.reconcile.balance import CurrencyCheck, check_balance, describe
from payments.psp.reconcile.runs import Reconciler

NOW = datetime(2030, 1, 2, 12, 0, tzinfo=UTC)


def test_the_psps_balance_is_read_per_currency_in_minor_units() -> None:
    body = {
        "object": "balance",
        "available": [{"amount": 1200, "currency": "usd"}, {"amount": -5, "currency": "EUR"}],
        "pending": [{"amount": 300, "currency": "USD"}],
    }
    assert balance_of(body) == PspBalance({"USD": 1200, "EUR": -5}, {"USD": 300})


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"available": []},
        {"available": [{"amount": "12.00", "currency": "USD"}], "pending": []},
        {"available": [{"amount": True, "currency": "USD"}], "pending": []},
        {"available": [{"amount": 1}], "pending": []},
        {"available": ["x"], "pending": []},
    ],
)
def test_a_balance_we_cannot_read_is_unavailable_never_zero(body: object) -> None:
    with pytest.raises(BalanceUnavailable):
        balance_of(body)


def test_ours_is_psp_balance_plus_bank_plus_what_is_not_reconciled_yet() -> None:
    check = CurrencyCheck("USD", 10_000, 250, 6_000, 3_000, 900, 1_000)
    assert check.ours_minor == 9_900
    assert check.difference_minor == 100
    assert check.as_dict()["difference_minor"] == 100


class _Psp:
    def __init__(self, file: bytes) -> None:
        self.file = file

    def balance(self) -> PspBalance:
        return PspBalance({"USD": 970, "EUR": 50}, {"USD": 0})

    def fetch_settlement(self, day: date, out: BinaryIO) -> str:
        out.write(self.file)
        return f"sha-{day}"

    def look_up_charge(self, reference: str) -> PspLookup:
        raise AssertionError("a dry run asks nothing")


def test_a_file_that_cannot_be_had_is_reported_and_every_currency_of_the_psp_is_compared() -> None:
    psp = _Psp(b"")  # today's file is empty: it cannot be read
    reconciler = Reconciler(
        ReconciliationCommands(PaymentsApplication(CheckoutPolicy("USD", 10**9))),
        currency="USD",
        window_days=3,
        client=psp,
    )
    balances = {"psp_balance": 900, "bank": 100, "psp_receivable": 0}
    check = check_balance(psp, lambda account: balances.get(account, 0), reconciler, now=NOW)
    # An empty file cannot be read: its lines are not counted, and the check says so.
    assert check.days_unavailable
    assert not check.balanced
    usd = {c.currency: c for c in check.currencies}
    assert usd["USD"].ours_minor == 1_000
    assert usd["USD"].difference_minor == -30
    assert usd["EUR"].difference_minor == 50  # we hold nothing in EUR
    assert "USD: PSP available 970, ours 1000, difference -30" in describe(check)
