"""A day's settlement file, built from the sandbox's own records (Adyen settlement details layout).

For day D (UTC) and one currency:
- one `Settled` line per succeeded charge created on D: Gross Credit = amount,
  Commission = round_half_up(amount * fee_percent_bps / 10000) + fee_fixed_minor (at most the
  amount), Net Credit = Gross Credit - Commission;
- one `Balancetransfer` debit line per payout created on D that was paid (or later returned),
  and one `Balancetransfer` credit line per returned payout (the money came back);
- one `MerchantPayout` line closing the batch: Net Debit = sum of the batch's net credits minus
  its net debits (Net Credit if that sum is negative).
The batch number of day D is the integer YYYYMMDD. Lines are ordered by creation time then id,
so the same state always gives byte-identical files.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, date, datetime

from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.identifiers import parse_iso_utc
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


def commission_minor(config: SandboxConfig, amount_minor: int) -> int:
    """Percentage fee rounded half up, in integers, plus the fixed fee; never above the amount."""
    percentage = (amount_minor * config.fee_percent_bps + 5_000) // 10_000
    return min(amount_minor, percentage + config.fee_fixed_minor)


def _naive_utc(text: str) -> datetime:
    return parse_iso_utc(text).astimezone(UTC).replace(tzinfo=None, microsecond=0)


def settlement_lines(
    store: SandboxStore, config: SandboxConfig, day: date, currency: str
) -> list[SettlementLine]:
    day_prefix = day.isoformat()
    batch = int(day.strftime("%Y%m%d"))
    entries: list[tuple[str, str, SettlementLine]] = []
    for charge in store.fetch_all(
        "SELECT c.*, t.brand FROM charges c LEFT JOIN tokens t ON t.token = c.token"
        " WHERE c.status = 'succeeded' AND c.currency = ? AND substr(c.created_at, 1, 10) = ?",
        (currency, day_prefix),
    ):
        fee = commission_minor(config, charge["amount"])
        line = SettlementLine(
            psp_reference=charge["id"],
            merchant_reference=charge["reference"],
            type="Settled",
            creation_date=_naive_utc(charge["created_at"]),
            currency=currency,
            gross_credit_minor=charge["amount"],
            net_credit_minor=charge["amount"] - fee,
            commission_minor=fee,
            batch_number=batch,
            payment_method=charge["brand"] or "card",
            modification_reference=charge["id"],
        )
        entries.append((charge["created_at"], charge["id"], line))
    for payout in store.fetch_all(
        "SELECT * FROM payouts WHERE status IN ('paid', 'returned') AND currency = ?"
        " AND substr(created_at, 1, 10) = ?",
        (currency, day_prefix),
    ):
        common = {
            "psp_reference": payout["id"],
            "merchant_reference": payout["reference"],
            "type": "Balancetransfer",
            "creation_date": _naive_utc(payout["created_at"]),
            "currency": currency,
            "batch_number": batch,
            "payment_method": "payout",
        }
        amount = payout["amount"]
        entries.append(
            (
                payout["created_at"],
                payout["id"] + ".1",
                SettlementLine(
                    **common,
                    gross_debit_minor=amount,
                    net_debit_minor=amount,
                    modification_reference=payout["id"],
                ),
            )
        )
        if payout["status"] == "returned":
            entries.append(
                (
                    payout["updated_at"],
                    payout["id"] + ".2",
                    SettlementLine(
                        **common,
                        gross_credit_minor=amount,
                        net_credit_minor=amount,
                        modification_reference=payout["id"] + "-return",
                    ),
                )
            )
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    lines = [line for _, _, line in entries]
    if lines:
        net = sum(line.net_credit_minor - line.net_debit_minor for line in lines)
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


def settlement_days(store: SandboxStore) -> list[str]:
    rows = store.fetch_all(
        "SELECT DISTINCT substr(created_at, 1, 10) AS day FROM charges WHERE status = 'succeeded'"
        " UNION SELECT DISTINCT substr(created_at, 1, 10) FROM payouts"
        " WHERE status IN ('paid', 'returned') ORDER BY day"
    )
    return [row["day"] for row in rows]
