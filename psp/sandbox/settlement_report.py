"""A day's settlement file, built from the sandbox's movements (Adyen settlement details layout).

For day D (UTC) and one currency: the lines of every movement in D's batch (see movements.py:
Settled, Refunded, Chargeback, Fee, ChargebackReversed, SecondChargeback, Balancetransfer), then
one `MerchantPayout` line closing the batch: Net Debit = the sum of the batch's net credits minus
its net debits (Net Credit if that sum is negative). The batch number of day D is the integer
YYYYMMDD. Lines are ordered by their moment then id, so the same state always gives
byte-identical files.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import date, datetime

from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.movements import batch_of, movements
from payments.psp.sandbox.store import SandboxStore
from payments.psp.settlement import SettlementLine, write_settlement_csv

CURRENCY_EXPONENTS: dict[str, int] = {
    "BHD": 3,
    "CLP": 0,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "VND": 0,
}


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency, 2)


def settlement_lines(
    store: SandboxStore, config: SandboxConfig, day: date, currency: str
) -> list[SettlementLine]:
    batch = batch_of(day.isoformat())
    moved = movements(store, config, currency, day.isoformat())
    lines = [movement.line for movement in moved]
    if lines:
        net = sum(movement.net_minor for movement in moved)
        lines.append(
            SettlementLine(
                psp_reference="",
                merchant_reference="",
                type="MerchantPayout",
                creation_date=datetime(day.year, day.month, day.day, 23, 59, 59),
                currency=currency,
                net_debit_minor=max(net, 0),
                net_credit_minor=max(-net, 0),
                batch_number=batch,
                modification_reference=f"batch-{batch}",
            )
        )
    return [
        dataclasses.replace(line, line_number=position)
        for position, line in enumerate(lines, start=2)
    ]


def settlement_csv(store: SandboxStore, config: SandboxConfig, day: date, currency: str) -> str:
    out = io.StringIO()
    write_settlement_csv(
        settlement_lines(store, config, day, currency),
        out,
        currency_exponent(currency),
        company_account=config.company_account,
        merchant_account=config.merchant_account,
    )
    return out.getvalue()
