"""A file is refused only when it cannot be read at all, naming the line and the column."""

from __future__ import annotations

import io

import pytest

from payments.psp.settlement import (
    COLUMNS,
    QuarantinedLine,
    SettlementFormatError,
    SettlementRecord,
    read_settlement,
)

from .conftest import FILES

HEADER = ",".join(COLUMNS)
ROW = (
    "C,M,psp1,ref1,visa,2026-11-25 10:00:00,UTC,Settled,mod1,USD,,5.00,1,USD,,4.41,0.59,,,,"
    ",,20261125,,,,,,,"
)


def _refusal(data: bytes, format: str | None = None) -> SettlementFormatError:
    with pytest.raises(SettlementFormatError) as caught:
        list(read_settlement(io.BytesIO(data), format=format))
    return caught.value


@pytest.mark.parametrize("data", [b"", b"\n\n\r\n", b"\xef\xbb\xbf", b",,,\n"])
def test_an_empty_file_is_refused_on_line_1(data: bytes) -> None:
    error = _refusal(data)
    assert (error.line, error.column, error.message) == (1, "", "empty file: no header line")


def test_a_binary_file_is_refused() -> None:
    error = _refusal(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert (error.line, error.column, "not UTF-8" in error.message) == (1, "", True)


def test_nul_bytes_are_not_text() -> None:
    error = _refusal(f"{HEADER}\n{ROW}\n".encode() + b"a\x00b\n")
    assert (error.line, "NUL" in error.message) == (3, True)


def test_a_line_that_is_not_utf8_is_refused_naming_it() -> None:
    error = _refusal(f"{HEADER}\n{ROW}\n".encode() + "caf\u00e9".encode("latin-1") + b"\n")
    assert (error.line, error.column, "not UTF-8" in error.message) == (3, "", True)


def test_a_text_stream_that_cannot_decode_is_refused_too() -> None:
    raw = f"{HEADER}\n{ROW}\n".encode() + b"\xff\xfe\n"
    stream = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline="")
    with pytest.raises(SettlementFormatError) as caught:
        list(read_settlement(stream))
    assert "not UTF-8" in caught.value.message


def test_an_unknown_header_is_refused_naming_its_first_column() -> None:
    error = _refusal(b"id,amount,when\n1,2.00,2024-01-01\n")
    assert (error.line, error.column) == (1, "id")
    assert "no known settlement layout (adyen, stripe, paypal)" in error.message


def test_a_header_that_is_not_csv_is_refused() -> None:
    error = _refusal(b'"Company Account,Type\n')
    assert (error.line, "not valid CSV" in error.message) == (1, True)


@pytest.mark.parametrize("missing", ["Type", "Net Credit (NC)", "Interchange (NC)", "TimeZone"])
def test_a_missing_essential_adyen_column_is_refused_naming_it(missing: str) -> None:
    header = ",".join(name for name in COLUMNS if name != missing)
    error = _refusal(f"{header}\n".encode())
    assert (error.line, error.column) == (1, missing)
    assert error.message.startswith("missing essential column")


def test_a_missing_essential_stripe_column_is_refused_naming_it() -> None:
    error = _refusal(b"balance_transaction_id,reporting_category,currency,gross,fee\n")
    assert (error.line, error.column, error.message) == (
        1,
        "net",
        "missing essential columns: net, created_utc",
    )


def test_a_missing_essential_paypal_column_is_refused_on_its_ch_line() -> None:
    data = (FILES / "paypal/STL-20240820.01.011.CSV").read_bytes()
    error = _refusal(data.replace(b',"Fee Amount"', b',"Fee Sum"', 1))
    assert (error.line, error.column) == (4, "Fee Amount")


def test_a_used_column_twice_is_refused() -> None:
    error = _refusal(f"{HEADER},Type\n".encode())
    assert (error.line, error.column, error.message) == (1, "Type", "column appears more than once")


def test_a_forced_format_reads_its_own_columns() -> None:
    error = _refusal(f"{HEADER}\n{ROW}\n".encode(), format="stripe")
    assert (error.line, error.column) == (1, "balance_transaction_id")
    (record,) = read_settlement(io.BytesIO(f"{HEADER}\n{ROW}\n".encode()), format="adyen")
    assert isinstance(record, SettlementRecord)


def test_a_file_cut_inside_a_quoted_field_is_refused_naming_that_column() -> None:
    cut = ROW.replace("ref1", '"ref1, cut')[:40]  # the last line ends in the open quote
    error = _refusal(f"{HEADER}\n{ROW}\n{cut}".encode())
    assert (error.line, error.column) == (3, "Merchant Reference")
    assert "inside a quoted field" in error.message


def test_a_quoted_field_left_open_over_several_lines_is_refused_at_its_first_line() -> None:
    cut = ROW.replace("ref1", '"ref1\n\nmore')
    error = _refusal(f"{HEADER}\n{ROW}\n{cut}\n".encode())
    assert (error.line, error.column) == (3, "Merchant Reference")


def test_a_last_line_with_fewer_fields_and_no_line_break_is_refused() -> None:
    error = _refusal(f"{HEADER}\n{ROW}\n{ROW[:40]}".encode())
    assert error.line == 3
    assert error.column == COLUMNS[len(ROW[:40].split(","))]
    assert "cut short" in error.message


def test_a_complete_last_line_may_lack_its_line_break() -> None:
    items = list(read_settlement(io.BytesIO(f"{HEADER}\n{ROW}\n{ROW}".encode())))
    assert [type(item) for item in items] == [SettlementRecord, SettlementRecord]


def test_a_short_line_in_the_middle_is_quarantined_not_refused() -> None:
    items = list(read_settlement(io.BytesIO(f"{HEADER}\n{ROW[:40]}\n{ROW}\n".encode())))
    assert isinstance(items[0], QuarantinedLine)
    assert (items[0].line_number, items[0].raw) == (2, ROW[:40])
    assert isinstance(items[1], SettlementRecord)


def test_records_stream_out_before_a_later_cut_is_found() -> None:
    reader = iter(read_settlement(io.BytesIO(f"{HEADER}\n{ROW}\n{ROW[:40]}".encode())))
    assert next(reader).line_number == 2
    with pytest.raises(SettlementFormatError):
        next(reader)


def test_problems_of_the_header_show_when_the_file_is_opened() -> None:
    header = ",".join(name for name in COLUMNS if name != "Type")
    with pytest.raises(SettlementFormatError):
        read_settlement(io.BytesIO(f"{header}\n{ROW}\n".encode()))


def test_empty_cells_past_the_last_column_are_harmless_but_data_there_is_not() -> None:
    data = f"{HEADER}\n{ROW},,\n{ROW},x\n".encode()
    first, second = read_settlement(io.BytesIO(data))
    assert isinstance(first, SettlementRecord)
    assert isinstance(second, QuarantinedLine)
    assert second.reason == "31 fields where the header has 30"


def test_blank_lines_before_the_header_move_the_line_it_is_refused_on() -> None:
    error = _refusal(b"\n\nid,amount\n")
    assert (error.line, error.column) == (3, "id")


@pytest.mark.parametrize(
    "name",
    [
        "adyen/older_layout_bom_crlf.csv",
        "stripe/all_categories_bom_crlf.csv",
        "paypal/STL-20240820.01.011.CSV",
    ],
)
def test_the_crlf_fixtures_still_have_their_bom_and_crlf(name: str) -> None:
    data = (FILES / name).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == data.count(b"\n")
