"""Every movement of money at the PSP, as the settlement line that reports it.

One function per kind of record, each giving `Movement`s for one currency, optionally only those
of one settlement day (the batch). The settlement files and the balance both read from here, so
they cannot disagree. Line by line (G = gross, N = net, amounts in minor units):
- `Settled`: a succeeded charge, on the day it was made: G credit = amount, Commission =
  round_half_up(amount * fee_percent_bps / 10000) + fee_fixed_minor (at most the amount),
  N credit = amount - commission.
- `Refunded`: a succeeded refund, on the day it succeeded: G and N debit = its amount; Merchant
  Reference = our refund reference, Modification Reference = the refund id, Psp Reference = the
  charge id.
- `Chargeback` and `Fee`: a dispute, on the day it opened: G and N debit = its amount, and N debit
  = the dispute fee; `ChargebackReversed`: on the day it was won, G and N credit = its amount;
  `SecondChargeback`: on the day a won dispute was reopened, G and N debit = its amount. Psp
  Reference = the charge id, Merchant Reference = the charge's reference, Modification Reference
  = the dispute id.
- `Balancetransfer`: a payout that was paid (or later returned), in the batch of the day it was
  made: a debit, and for a returned one a credit back (Modification Reference `<id>-return`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.identifiers import parse_iso_utc
from payments.psp.sandbox.store import SandboxStore
from payments.psp.settlement import SettlementLine


@dataclass(frozen=True)
class Movement:
    """A settlement line with where it sorts: its moment, then a tie-break for equal moments."""

    moment: str
    tie_break: str
    line: SettlementLine

    @property
    def net_minor(self) -> int:
        return self.line.net_credit_minor - self.line.net_debit_minor


def commission_minor(config: SandboxConfig, amount_minor: int) -> int:
    """Percentage fee rounded half up, in integers, plus the fixed fee; never above the amount."""
    percentage = (amount_minor * config.fee_percent_bps + 5_000) // 10_000
    return min(amount_minor, percentage + config.fee_fixed_minor)


def naive_utc(text: str) -> datetime:
    return parse_iso_utc(text).astimezone(UTC).replace(tzinfo=None, microsecond=0)


def batch_of(day_text: str) -> int:
    """The batch number of a UTC day: the integer YYYYMMDD."""
    return int(day_text[:10].replace("-", ""))


def _on_day(column: str, day: str | None) -> tuple[str, tuple[str, ...]]:
    return (f" AND substr({column}, 1, 10) = ?", (day,)) if day else ("", ())


def _charges(
    store: SandboxStore, config: SandboxConfig, currency: str, day: str | None
) -> Iterator[Movement]:
    condition, parameters = _on_day("c.created_at", day)
    for charge in store.fetch_all(
        "SELECT c.*, t.brand FROM charges c LEFT JOIN tokens t ON t.token = c.token"
        " WHERE c.status = 'succeeded' AND c.currency = ?" + condition,
        (currency, *parameters),
    ):
        fee = commission_minor(config, charge["amount"])
        yield Movement(
            charge["created_at"],
            charge["id"],
            SettlementLine(
                psp_reference=charge["id"],
                merchant_reference=charge["reference"],
                type="Settled",
                creation_date=naive_utc(charge["created_at"]),
                currency=currency,
                gross_credit_minor=charge["amount"],
                net_credit_minor=charge["amount"] - fee,
                commission_minor=fee,
                batch_number=batch_of(charge["created_at"]),
                payment_method=charge["brand"] or "card",
                modification_reference=charge["id"],
            ),
        )


def _refunds(
    store: SandboxStore, config: SandboxConfig, currency: str, day: str | None
) -> Iterator[Movement]:
    condition, parameters = _on_day("r.updated_at", day)
    for refund in store.fetch_all(
        "SELECT r.*, t.brand FROM refunds r JOIN charges c ON c.id = r.charge_id"
        " LEFT JOIN tokens t ON t.token = c.token"
        " WHERE r.status = 'succeeded' AND r.currency = ?" + condition,
        (currency, *parameters),
    ):
        yield Movement(
            refund["updated_at"],
            refund["id"],
            SettlementLine(
                psp_reference=refund["charge_id"],
                merchant_reference=refund["reference"],
                type="Refunded",
                creation_date=naive_utc(refund["updated_at"]),
                currency=currency,
                gross_debit_minor=refund["amount"],
                net_debit_minor=refund["amount"],
                batch_number=batch_of(refund["updated_at"]),
                payment_method=refund["brand"] or "card",
                modification_reference=refund["id"],
            ),
        )


# A dispute's lines: (type, the column dating it, order among equal moments, debit?, of the fee?)
_DISPUTE_LINES = (
    ("Chargeback", "created_at", ".1", True, False),
    ("Fee", "created_at", ".2", True, True),
    ("ChargebackReversed", "won_at", ".3", False, False),
    ("SecondChargeback", "reopened_at", ".4", True, False),
)


def _disputes(
    store: SandboxStore, config: SandboxConfig, currency: str, day: str | None
) -> Iterator[Movement]:
    for line_type, column, order, debit, of_fee in _DISPUTE_LINES:
        condition, parameters = _on_day(f"d.{column}", day)
        for dispute in store.fetch_all(
            "SELECT d.*, c.reference AS charge_reference, t.brand FROM disputes d"
            " JOIN charges c ON c.id = d.charge_id LEFT JOIN tokens t ON t.token = c.token"
            f" WHERE d.{column} IS NOT NULL"
            " AND d.currency = ?" + condition,
            (currency, *parameters),
        ):
            moment, amount = dispute[column], dispute["fee" if of_fee else "amount"]
            gross = 0 if of_fee else amount
            yield Movement(
                moment,
                dispute["id"] + order,
                SettlementLine(
                    psp_reference=dispute["charge_id"],
                    merchant_reference=dispute["charge_reference"],
                    type=line_type,
                    creation_date=naive_utc(moment),
                    currency=currency,
                    gross_debit_minor=gross if debit else 0,
                    gross_credit_minor=0 if debit else gross,
                    net_debit_minor=amount if debit else 0,
                    net_credit_minor=0 if debit else amount,
                    batch_number=batch_of(moment),
                    payment_method=dispute["brand"] or "card",
                    modification_reference=dispute["id"],
                ),
            )


def _payouts(
    store: SandboxStore, config: SandboxConfig, currency: str, day: str | None
) -> Iterator[Movement]:
    condition, parameters = _on_day("created_at", day)
    for payout in store.fetch_all(
        "SELECT * FROM payouts WHERE status IN ('paid', 'returned') AND currency = ?" + condition,
        (currency, *parameters),
    ):
        common = {
            "psp_reference": payout["id"],
            "merchant_reference": payout["reference"],
            "type": "Balancetransfer",
            "creation_date": naive_utc(payout["created_at"]),
            "currency": currency,
            "batch_number": batch_of(payout["created_at"]),
            "payment_method": "payout",
        }
        amount = payout["amount"]
        yield Movement(
            payout["created_at"],
            payout["id"] + ".1",
            SettlementLine(
                **common,
                gross_debit_minor=amount,
                net_debit_minor=amount,
                modification_reference=payout["id"],
            ),
        )
        if payout["status"] == "returned":
            yield Movement(
                payout["updated_at"],
                payout["id"] + ".2",
                SettlementLine(
                    **common,
                    gross_credit_minor=amount,
                    net_credit_minor=amount,
                    modification_reference=payout["id"] + "-return",
                ),
            )


_KINDS: tuple[Callable[[SandboxStore, SandboxConfig, str, str | None], Iterator[Movement]], ...] = (
    _charges,
    _refunds,
    _disputes,
    _payouts,
)


def movements(
    store: SandboxStore, config: SandboxConfig, currency: str, day: str | None = None
) -> list[Movement]:
    """The movements in `currency` (only day `YYYY-MM-DD`'s batch if given), in file order."""
    found = [movement for kind in _KINDS for movement in kind(store, config, currency, day)]
    return sorted(found, key=lambda movement: (movement.moment, movement.tie_break))


def movement_days(store: SandboxStore) -> list[str]:
    """Every UTC day that has a batch, in order."""
    rows = store.fetch_all(
        "SELECT substr(created_at, 1, 10) AS day FROM charges WHERE status = 'succeeded'"
        " UNION SELECT substr(created_at, 1, 10) FROM payouts WHERE status IN ('paid', 'returned')"
        " UNION SELECT substr(updated_at, 1, 10) FROM refunds WHERE status = 'succeeded'"
        " UNION SELECT substr(created_at, 1, 10) FROM disputes"
        " UNION SELECT substr(won_at, 1, 10) FROM disputes WHERE won_at IS NOT NULL"
        " UNION SELECT substr(reopened_at, 1, 10) FROM disputes WHERE reopened_at IS NOT NULL"
        " ORDER BY day"
    )
    return [row["day"] for row in rows]


def currencies(store: SandboxStore) -> list[str]:
    """Every currency something was charged or paid out in."""
    rows = store.fetch_all(
        "SELECT currency FROM charges UNION SELECT currency FROM payouts ORDER BY currency"
    )
    return [row["currency"] for row in rows]
