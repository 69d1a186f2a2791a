"""Settlement records (psp/settlement) as the lines the domain's classifier reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from payments.domain.reconciliation.lines import Line, LineKind, PspLine, UnreadableLine
from payments.psp.settlement import QuarantinedLine, SettlementItem, SettlementRecord

# The cell that names a line's type, per format: a line refused there is of a type we do not
# know (its own class), not a value we could not parse.
TYPE_COLUMNS = frozenset({"Type", "reporting_category", "Transaction Event Code"})
_KINDS = {kind.value: kind for kind in LineKind}


def to_line(item: SettlementItem) -> Line:
    if isinstance(item, QuarantinedLine):
        unknown_type = item.column in TYPE_COLUMNS or item.reason.startswith("unknown row type")
        return UnreadableLine(item.line_number, item.raw, item.column, item.reason, unknown_type)
    return _psp_line(item)


def _psp_line(record: SettlementRecord) -> PspLine:
    return PspLine(
        source=record.format.value,
        line=record.line_number,
        kind=_KINDS[record.kind.value],
        record_type=record.record_type,
        psp_reference=record.psp_reference,
        merchant_reference=record.merchant_reference,
        modification_reference=record.modification_reference,
        line_reference=record.line_reference,
        booked_at=record.booked_at,
        currency=record.currency,
        net_minor=record.net_minor,
        gross_minor=record.gross_minor,
        gross_currency=record.gross_currency,
        fee_minor=record.fee_minor,
        batch=record.batch,
        raw=record.raw,
    )


def to_lines(items: Iterable[SettlementItem]) -> Iterator[Line]:
    for item in items:
        yield to_line(item)
