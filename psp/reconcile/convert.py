"""Settlement records (psp/settlement) as the lines the domain's classifier reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import fields

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


# The line's fields that the record has under the same name (fee_minor is its fees' total).
_SAME_NAMED = tuple(
    field.name for field in fields(PspLine) if field.name not in {"source", "line", "kind"}
)


def _psp_line(record: SettlementRecord) -> PspLine:
    same_named = {name: getattr(record, name) for name in _SAME_NAMED}
    return PspLine(
        source=record.format.value,
        line=record.line_number,
        kind=_KINDS[record.kind.value],
        **same_named,
    )


def to_lines(items: Iterable[SettlementItem]) -> Iterator[Line]:
    for item in items:
        yield to_line(item)
