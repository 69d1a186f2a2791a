from __future__ import annotations

import io
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.psp.settlement import (
    COLUMNS,
    SettlementFormatError,
    SettlementLine,
    iter_settlement_lines,
    parse_minor,
    write_settlement_csv,
)

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
minor = st.integers(min_value=0, max_value=10**13)

line_strategy = st.builds(
    SettlementLine,
    psp_reference=text,
    merchant_reference=text,
    type=st.sampled_from(["Settled", "Refunded", "Chargeback", "Fee", "MerchantPayout"]),
    creation_date=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)
    ).map(lambda moment: moment.replace(microsecond=0)),
    currency=st.just("USD"),
    gross_debit_minor=minor,
    gross_credit_minor=minor,
    net_debit_minor=minor,
    net_credit_minor=minor,
    commission_minor=minor,
    markup_minor=minor,
    scheme_fees_minor=minor,
    interchange_minor=minor,
    batch_number=st.none() | st.integers(min_value=0, max_value=10**9),
    payment_method=text,
    modification_reference=text,
    payment_method_variant=text,
    time_zone=st.sampled_from(["UTC", "CET"]),
)


def _numbered(lines: list[SettlementLine]) -> list[SettlementLine]:
    return [SettlementLine(**{**line.__dict__, "line_number": 0}) for line in lines]


def _written(lines: list[SettlementLine], exponent: int = 2) -> str:
    out = io.StringIO()
    write_settlement_csv(lines, out, exponent)
    return out.getvalue()


@given(st.lists(line_strategy, max_size=8), st.sampled_from([0, 2, 3]))
def test_writing_then_parsing_gives_the_same_lines(
    lines: list[SettlementLine], exponent: int
) -> None:
    parsed = list(
        iter_settlement_lines(
            io.StringIO(_written(lines, exponent)), currency="USD", exponent=exponent
        )
    )
    assert _numbered(parsed) == _numbered(lines)


@given(st.lists(line_strategy, max_size=5))
def test_writing_is_deterministic(lines: list[SettlementLine]) -> None:
    assert _written(lines) == _written(lines)


def test_amounts_become_minor_units_without_float() -> None:
    assert parse_minor("5.00", 2) == 500
    assert parse_minor("7.5", 2) == 750
    assert parse_minor("12", 2) == 1200
    assert parse_minor("", 2) == 0
    assert parse_minor("1234567890123.45", 2) == 123456789012345


SAMPLE_ROW = (
    "C,M,psp1,ref1,visa,2026-11-25 10:00:00,UTC,Settled,psp1,USD,,5.00,1,USD,,4.41,0.59,,,,"
    ",,20261125,,,,,,,"
)


def _file(*rows: str, header: str = ",".join(COLUMNS)) -> io.StringIO:
    return io.StringIO("\n".join([header, *rows]) + "\n")


def _error_of(stream: io.StringIO) -> SettlementFormatError:
    with pytest.raises(SettlementFormatError) as caught:
        list(iter_settlement_lines(stream, currency="USD", exponent=2))
    return caught.value


def test_a_good_row_parses_with_its_line_number() -> None:
    (line,) = iter_settlement_lines(_file(SAMPLE_ROW), currency="USD", exponent=2)
    assert (line.line_number, line.gross_credit_minor, line.net_credit_minor) == (2, 500, 441)
    assert line.commission_minor == 59
    assert line.batch_number == 20261125


def test_an_unknown_layout_is_refused_on_line_1() -> None:
    error = _error_of(_file("a,b", header="id,amount"))
    assert (error.line, "unknown settlement layout" in error.message) == (1, True)


def test_a_missing_column_is_named() -> None:
    header = ",".join(name for name in COLUMNS if name != "Net Credit (NC)")
    error = _error_of(_file(header=header))
    assert (error.line, error.column) == (1, "Net Credit (NC)")


@pytest.mark.parametrize(
    ("bad_amount", "why"),
    [("5.001", "decimals"), ("-5.00", "plain"), ("5e2", "plain"), (" 5.00", "plain"),
     ("5,00", "plain"), ("5.", "plain"), ("+5", "plain"), ("0x10", "plain")],
)  # fmt: skip
def test_a_bad_amount_names_line_and_column(bad_amount: str, why: str) -> None:
    row = SAMPLE_ROW.replace(",5.00,", f',"{bad_amount}",', 1)
    error = _error_of(_file(SAMPLE_ROW, row))
    assert (error.line, error.column) == (3, "Gross Credit (GC)")
    assert why in error.message


def test_another_currency_is_refused() -> None:
    error = _error_of(_file(SAMPLE_ROW.replace("USD", "EUR", 1)))
    assert (error.line, error.column) == (2, "Gross Currency")


@pytest.mark.parametrize("bad_date", ["2026-13-01 10:00:00", "2026-11-25T10:00:00", "25/11/2026"])
def test_a_bad_date_is_refused(bad_date: str) -> None:
    error = _error_of(_file(SAMPLE_ROW.replace("2026-11-25 10:00:00", bad_date)))
    assert (error.line, error.column) == (2, "Creation Date")


def test_an_unknown_type_is_refused() -> None:
    error = _error_of(_file(SAMPLE_ROW.replace("Settled", "Captured")))
    assert (error.line, error.column, "Captured" in error.message) == (2, "Type", True)


def test_a_truncated_final_row_is_refused() -> None:
    stream = io.StringIO(",".join(COLUMNS) + "\n" + SAMPLE_ROW + "\n" + SAMPLE_ROW[:40])
    error = _error_of(stream)
    assert error.line == 3
    assert "truncated" in error.message
    assert error.column == COLUMNS[len(SAMPLE_ROW[:40].split(","))]


def test_the_parser_streams_and_reports_rows_before_a_later_error() -> None:
    lines = iter_settlement_lines(_file(SAMPLE_ROW, "broken"), currency="USD", exponent=2)
    assert next(lines).line_number == 2
    with pytest.raises(SettlementFormatError):
        next(lines)
