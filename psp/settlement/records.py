"""What every settlement format is read into: one normalised record per line, or a quarantined line.

Signs follow our account at the PSP: + is money credited to it (a capture, a returned refund),
- is money debited from it (a refund, a fee, a chargeback, and also the PSP paying our balance
out to our bank). So the net amounts of a closed batch, its MerchantPayout line included, add
up to what the batch carries over (usually zero).

Fees are costs: each component in `fees` is + when charged to us and - when given back, and
`fee_minor` is their sum, so `net_minor == gross_minor - fee_minor` on a line whose gross and net
share one currency and whose fees the file itemises. A line that *is* a fee (kind FEE, e.g. an
Adyen "Fee" line) carries it in `net_minor`, with no gross and no components.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class SettlementFormat(StrEnum):
    """The settlement file layouts we read."""

    ADYEN = "adyen"  # Adyen Settlement details report
    STRIPE = "stripe"  # Stripe Itemized payout reconciliation report
    PAYPAL = "paypal"  # PayPal Settlement report (STL)


class RecordKind(StrEnum):
    """What a line means to us, whatever the provider calls it (its name stays in record_type)."""

    CAPTURE = "capture"  # a payment of ours settled to us
    CAPTURE_REVERSAL = "capture_reversal"  # part or all of a settled capture taken back
    REFUND = "refund"
    REFUND_REVERSAL = "refund_reversal"  # a refund that came back (failed or returned)
    CHARGEBACK = "chargeback"
    CHARGEBACK_REVERSAL = "chargeback_reversal"  # a chargeback we won, or that was cancelled
    SECOND_CHARGEBACK = "second_chargeback"  # our defence of a chargeback failed
    FEE = "fee"  # a cost booked on its own line (monthly fees, misc costs, fee refunds)
    PAYOUT = "payout"  # money we asked the PSP to send out: to a seller, a connected account
    PAYOUT_RETURN = "payout_return"  # such a payout that came back
    MERCHANT_PAYOUT = "merchant_payout"  # the PSP paying our settled balance to our bank
    MERCHANT_PAYOUT_RETURN = "merchant_payout_return"  # that bank transfer came back
    CORRECTION = "correction"  # deposit and reserve adjustments, invoice deductions, top-ups
    OTHER = "other"  # a documented type that moves nothing we reconcile (issuing, conversions)


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    """One understood line of a settlement file; amounts are signed integers of minor units.

    psp_reference is the PSP's id of the payment (or payout) the line belongs to;
    modification_reference the PSP's id of this refund, dispute or capture when it has one;
    line_reference the PSP's own id of this very line where the format has one (Stripe balance
    transaction, PayPal transaction), else "". merchant_reference and
    modification_merchant_reference are our references for the same two things. `batch` is the
    payout the line was settled in: Adyen batch number, Stripe automatic payout id, None when
    the format does not say. `currency` is the currency of net and fees; the gross may be in
    another (`gross_currency`, converted at `exchange_rate`). `raw` is the line as in the file.
    """

    line_number: int
    format: SettlementFormat
    record_type: str
    kind: RecordKind
    psp_reference: str
    merchant_reference: str
    modification_reference: str
    modification_merchant_reference: str
    line_reference: str
    booked_at: datetime
    currency: str
    net_minor: int
    gross_minor: int | None
    gross_currency: str | None
    fees: tuple[tuple[str, int], ...]
    exchange_rate: Decimal | None
    batch: str | None
    raw: str

    def __post_init__(self) -> None:
        if self.booked_at.utcoffset() != timedelta(0):
            raise ValueError("booked_at must be an aware datetime in UTC")
        if (self.gross_minor is None) != (self.gross_currency is None):
            raise ValueError("gross_minor and gross_currency are both set or both None")

    @property
    def fee_minor(self) -> int:
        """Total fees: + charged to us, - given back to us."""
        return sum(minor for _, minor in self.fees)


@dataclass(frozen=True, slots=True)
class QuarantinedLine:
    """A readable line we could not understand; `column` names the cell ("" for the whole line)."""

    line_number: int
    raw: str
    column: str
    reason: str


SettlementItem = SettlementRecord | QuarantinedLine
