"""Every movement of money at the PSP, as the settlement line that reports it.

Every kind of record gives `Movement`s for one currency (card payments by the table of their
lines, payouts by a function), optionally only those of one settlement day (the batch). The
settlement files and the balance both read from here, so they cannot disagree. Line by line
(G = gross, N = net, amounts in minor units):
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


# The rows behind a card payment's lines, in one currency (the parameter), each with the line's
# psp_reference and merchant_reference and the card's brand; the row's id is the line's
# Modification Reference.
_CHARGES = (
    "SELECT c.*, c.id AS psp_reference, c.reference AS merchant_reference, t.brand FROM charges c"
    " LEFT JOIN tokens t ON t.token = c.token WHERE c.status = 'succeeded' AND c.currency = ?"
)
_REFUNDS = (
    "SELECT r.*, r.charge_id AS psp_reference, r.reference AS merchant_reference, t.brand"
    " FROM refunds r JOIN charges c ON c.id = r.charge_id"
    " LEFT JOIN tokens t ON t.token = c.token WHERE r.status = 'succeeded' AND r.currency = ?"
)
_DISPUTES = (
    "SELECT d.*, d.charge_id AS psp_reference, c.reference AS merchant_reference, t.brand"
    " FROM disputes d JOIN charges c ON c.id = d.charge_id"
    " LEFT JOIN tokens t ON t.token = c.token WHERE d.currency = ?"
)


@dataclass(frozen=True)
class _CardLine:
    """One line for every row of `query` whose `dated_by` column is set: its `amount` column
    debited or credited; in the gross columns too unless `net_only`; a `commissioned` line
    credits the net less the commission. `order` sorts a row's lines at one moment."""

    type: str
    query: str
    dated_by: str
    debit: bool
    amount: str = "amount"
    net_only: bool = False
    commissioned: bool = False
    order: str = ""


_CARD_LINES = (
    _CardLine("Settled", _CHARGES, "c.created_at", debit=False, commissioned=True),
    _CardLine("Refunded", _REFUNDS, "r.updated_at", debit=True),
    _CardLine("Chargeback", _DISPUTES, "d.created_at", debit=True, order=".1"),
    _CardLine(
        "Fee", _DISPUTES, "d.created_at", debit=True, amount="fee", net_only=True, order=".2"
    ),
    _CardLine("ChargebackReversed", _DISPUTES, "d.won_at", debit=False, order=".3"),
    _CardLine("SecondChargeback", _DISPUTES, "d.reopened_at", debit=True, order=".4"),
)


def _card_payments(
    store: SandboxStore, config: SandboxConfig, currency: str, day: str | None
) -> Iterator[Movement]:
    for kind in _CARD_LINES:
        condition, parameters = _on_day(kind.dated_by, day)
        column = kind.dated_by.partition(".")[2]
        for row in store.fetch_all(
            f"{kind.query} AND {kind.dated_by} IS NOT NULL{condition}", (currency, *parameters)
        ):
            moment, amount = row[column], row[kind.amount]
            fee = commission_minor(config, amount) if kind.commissioned else 0
            gross, net = (0 if kind.net_only else amount), amount - fee
            yield Movement(
                moment,
                row["id"] + kind.order,
                SettlementLine(
                    psp_reference=row["psp_reference"],
                    merchant_reference=row["merchant_reference"],
                    type=kind.type,
                    creation_date=naive_utc(moment),
                    currency=currency,
                    gross_debit_minor=gross if kind.debit else 0,
                    gross_credit_minor=0 if kind.debit else gross,
                    net_debit_minor=net if kind.debit else 0,
                    net_credit_minor=0 if kind.debit else net,
                    commission_minor=fee,
                    batch_number=batch_of(moment),
                    payment_method=row["brand"] or "card",
                    modification_reference=row["id"],
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
        # (moment, order, debit?, modification reference): paid, then for a returned one, back
        lines = [(payout["created_at"], ".1", True, payout["id"])]
        if payout["status"] == "returned":
            lines.append((payout["updated_at"], ".2", False, payout["id"] + "-return"))
        for moment, order, debit, reference in lines:
            yield Movement(
                moment,
                payout["id"] + order,
                SettlementLine(
                    **common,
                    gross_debit_minor=amount if debit else 0,
                    gross_credit_minor=0 if debit else amount,
                    net_debit_minor=amount if debit else 0,
                    net_credit_minor=0 if debit else amount,
                    modification_reference=reference,
                ),
            )


_KINDS: tuple[Callable[[SandboxStore, SandboxConfig, str, str | None], Iterator[Movement]], ...] = (
    _card_payments,
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
