"""Stripe "Itemized payout reconciliation" report (payout_reconciliation.itemized.5): one line per
balance transaction, with the automatic payout that settled it.

gross, fee and net are signed decimals of major units in `currency` (lower case in the file);
Stripe's fee is a cost, as ours (net = gross - fee). The line's time is created_utc; if a report
leaves that column out, `created` in ReadOptions.stripe_time_zone. References:
- psp_reference: payment_intent_id, else charge_id, else source_id; modification_reference:
  source_id when it is another object (a refund re_, a dispute dp_, the charge ch_ of an intent);
- merchant_reference: payment_metadata[KEY], else transfer_metadata[KEY], else description;
  modification_merchant_reference: refund_metadata[KEY]; KEY is ReadOptions.stripe_metadata_key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import tzinfo

from payments.psp.settlement.amounts import (
    CellError,
    currency_of,
    parse_major,
    parse_optional_major,
)
from payments.psp.settlement.csv_rows import CsvRows, Row
from payments.psp.settlement.layout import (
    Columns,
    ReadOptions,
    bind_columns,
    body_item,
    header_names,
)
from payments.psp.settlement.records import (
    RecordKind,
    SettlementFormat,
    SettlementItem,
    SettlementRecord,
)
from payments.psp.settlement.times import ZoneResolver, local_to_utc

K = RecordKind
# Stripe's reporting categories (docs.stripe.com/reports/reporting-categories).
REPORTING_CATEGORIES: dict[str, RecordKind] = {
    "charge": K.CAPTURE,
    "partial_capture_reversal": K.CAPTURE_REVERSAL,
    "charge_failure": K.CAPTURE_REVERSAL,
    "refund": K.REFUND,
    "refund_failure": K.REFUND_REVERSAL,
    "dispute": K.CHARGEBACK,
    "dispute_reversal": K.CHARGEBACK_REVERSAL,
    "fee": K.FEE,
    "network_cost": K.FEE,
    "tax": K.FEE,
    "transfer": K.PAYOUT,
    "transfer_reversal": K.PAYOUT_RETURN,
    "payout": K.MERCHANT_PAYOUT,
    "payout_reversal": K.MERCHANT_PAYOUT_RETURN,
    "other_adjustment": K.CORRECTION,
    "connect_reserved_funds": K.CORRECTION,
    "risk_reserved_funds": K.CORRECTION,
    "connect_collection_transfer": K.CORRECTION,
    "topup": K.CORRECTION,
    "topup_reversal": K.CORRECTION,
    "advance": K.CORRECTION,
    "advance_funding": K.CORRECTION,
    "anticipation_repayment": K.CORRECTION,
    "unreconciled_customer_funds": K.CORRECTION,
    "platform_earning": K.OTHER,
    "platform_earning_refund": K.OTHER,
    "contribution": K.OTHER,
    "climate_order_purchase": K.OTHER,
    "climate_order_refund": K.OTHER,
    "financing_paydown": K.OTHER,
    "financing_paydown_reversal": K.OTHER,
    "financing_payout": K.OTHER,
    "financing_payout_reversal": K.OTHER,
    "issuing_authorization_hold": K.OTHER,
    "issuing_authorization_release": K.OTHER,
    "issuing_dispute": K.OTHER,
    "issuing_transaction": K.OTHER,
}
ESSENTIAL: tuple[str, ...] = (
    "balance_transaction_id",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
)
OPTIONAL: tuple[str, ...] = (
    "automatic_payout_id",
    "source_id",
    "description",
    "charge_id",
    "payment_intent_id",
)
SIGNATURE = frozenset(
    {"balance_transaction_id", "reporting_category", "automatic_payout_id", "created_utc"}
)


class StripeItemizedPayoutReconciliation:
    """The Stripe layout behind the SettlementLayout interface."""

    name = SettlementFormat.STRIPE

    def matches(self, header: Sequence[str]) -> bool:
        """Two of its telling columns: a header missing an essential one is still Stripe's."""
        return len(SIGNATURE.intersection(header_names(header))) >= 2

    def records(self, rows: CsvRows, header: Row, options: ReadOptions) -> Iterator[SettlementItem]:
        names = header_names(header.fields)
        key = options.stripe_metadata_key
        metadata = tuple(f"{kind}_metadata[{key}]" for kind in ("payment", "transfer", "refund"))
        local_only = "created" in names and "created_utc" not in names
        time_column = "created" if local_only else "created_utc"
        used = frozenset((*ESSENTIAL, *OPTIONAL, *metadata, time_column))
        essential = (*ESSENTIAL, time_column)
        columns = bind_columns(
            header, names, essential=essential, used=used.__contains__, rows=rows
        )
        try:
            zone = ZoneResolver().zone(
                "UTC" if time_column == "created_utc" else options.stripe_time_zone, time_column
            )
        except CellError as error:
            raise ValueError(f"ReadOptions.stripe_time_zone: {error.reason}") from None
        parse = _Reading(columns, metadata, time_column, zone).record
        for row in rows:
            yield body_item(row, columns, parse)


class _Reading:
    def __init__(
        self, columns: Columns, metadata: tuple[str, ...], time_column: str, zone: tzinfo
    ) -> None:
        self.columns, self.metadata, self.time_column = columns, metadata, time_column
        self.zone = zone

    def record(self, row: Row) -> SettlementRecord:
        cells, get, at = row.fields, self.columns.get, self.columns.index
        category = cells[at["reporting_category"]]
        kind = REPORTING_CATEGORIES.get(category.strip())
        if kind is None:
            raise CellError("reporting_category", f"unknown reporting category {category!r}")
        currency, exponent = currency_of(cells[at["currency"]], "currency")
        net = parse_major(_point(cells[at["net"]]), exponent, "net")
        gross = parse_optional_major(_point(cells[at["gross"]]), exponent, "gross")
        fee = parse_optional_major(_point(cells[at["fee"]]), exponent, "fee")
        source = get(cells, "source_id")
        psp = get(cells, "payment_intent_id") or get(cells, "charge_id") or source
        payment_ref, transfer_ref, refund_ref = (get(cells, name) for name in self.metadata)
        booked_at = local_to_utc(cells[at[self.time_column]], self.zone, self.time_column)
        batch = get(cells, "automatic_payout_id").strip()
        return SettlementRecord(
            line_number=row.line_number,
            format=SettlementFormat.STRIPE,
            record_type=category,
            kind=kind,
            psp_reference=psp,
            merchant_reference=payment_ref or transfer_ref or get(cells, "description"),
            modification_reference=source if source != psp else "",
            modification_merchant_reference=refund_ref,
            line_reference=cells[at["balance_transaction_id"]],
            booked_at=booked_at,
            currency=currency,
            net_minor=net,
            gross_minor=gross,
            gross_currency=None if gross is None else currency,
            fees=(("fee", fee),) if fee else (),
            exchange_rate=None,
            batch=batch or None,
            raw=row.raw,
        )


def _point(text: str) -> str:
    """Stripe reports can be asked for a decimal comma (decimal_separator); read it as a point."""
    return text.replace(",", ".") if "," in text and "." not in text else text
