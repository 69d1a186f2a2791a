"""Amounts, time zones and format detection, one cell at a time."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.psp.settlement import (
    COLUMNS,
    ReadOptions,
    SettlementFormat,
    SettlementFormatError,
    SettlementRecord,
    detect_format,
    read_settlement,
)
from payments.psp.settlement.amounts import CellError, format_major, parse_major, parse_rate
from payments.psp.settlement.times import ZoneResolver, local_to_utc


@pytest.mark.parametrize(
    ("text", "exponent", "minor"),
    [
        ("5.00", 2, 500), ("7.5", 2, 750), ("12", 2, 1200), (".11", 2, 11), ("-0.11", 2, -11),
        ("-.11", 2, -11), ("-0", 2, 0), ("0.00", 2, 0), ("1500", 0, 1500), ("1.250", 3, 1250),
        ("007.50", 2, 750), (" 5.00 ", 2, 500), ("1234567890123.45", 2, 123456789012345),
    ],
)  # fmt: skip
def test_amounts_as_providers_write_them(text: str, exponent: int, minor: int) -> None:
    assert parse_major(text, exponent, "Net Credit (NC)") == minor


@pytest.mark.parametrize(
    "text",
    ["", "-", ".", "5.", "+5", "5e2", "1,000", "--1", "0x10", "5.001", "1.2.3", "\u0663", "1" * 33],
)
def test_amounts_we_do_not_guess_at(text: str) -> None:
    with pytest.raises(CellError) as caught:
        parse_major(text, 2, "Gross Credit (GC)")
    assert caught.value.column == "Gross Credit (GC)"


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from([0, 2, 3]))
def test_formatting_then_parsing_an_amount_is_the_identity(minor: int, exponent: int) -> None:
    assert parse_major(format_major(minor, exponent), exponent, "x") == minor


def test_exchange_rates() -> None:
    assert str(parse_rate("1.0843", "Exchange Rate")) == "1.0843"
    assert parse_rate("", "Exchange Rate") is None
    for bad in ("0", "-1", "1e3", "abc"):
        with pytest.raises(CellError):
            parse_rate(bad, "Exchange Rate")


@pytest.mark.parametrize(
    ("zone", "local", "expected"),
    [
        ("UTC", "2024-01-15 10:00:00", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("GMT", "2024-01-15 10:00:00", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("CET", "2024-01-15 10:00:00", datetime(2024, 1, 15, 9, tzinfo=UTC)),
        ("CEST", "2024-07-15 10:00:00", datetime(2024, 7, 15, 8, tzinfo=UTC)),
        ("CET", "2024-07-15 10:00:00", datetime(2024, 7, 15, 9, tzinfo=UTC)),  # as it says
        ("BST", "2024-07-15 10:00:00", datetime(2024, 7, 15, 9, tzinfo=UTC)),
        ("PST", "2024-01-15 10:00:00", datetime(2024, 1, 15, 18, tzinfo=UTC)),
        ("PDT", "2024-07-15 10:00:00", datetime(2024, 7, 15, 17, tzinfo=UTC)),
        ("Europe/Amsterdam", "2024-01-15 10:00:00", datetime(2024, 1, 15, 9, tzinfo=UTC)),
        ("Europe/Amsterdam", "2024-07-15 10:00:00", datetime(2024, 7, 15, 8, tzinfo=UTC)),
        ("America/Los_Angeles", "2024-07-15 10:00:00", datetime(2024, 7, 15, 17, tzinfo=UTC)),
        ("+05:30", "2024-01-15 10:00:00", datetime(2024, 1, 15, 4, 30, tzinfo=UTC)),
        ("UTC-0300", "2024-01-15 10:00:00", datetime(2024, 1, 15, 13, tzinfo=UTC)),
    ],
)
def test_local_times_become_utc(zone: str, local: str, expected: datetime) -> None:
    converted = local_to_utc(local, ZoneResolver().zone(zone, "TimeZone"), "Creation Date")
    assert converted == expected
    assert converted.utcoffset() == timedelta(0)


@pytest.mark.parametrize("zone", ["CST", "IST", "XYZ", "Mars/Olympus", "", "+25:00", "EST5EDT"])
def test_ambiguous_or_unknown_zones_are_not_guessed(zone: str) -> None:
    with pytest.raises(CellError) as caught:
        ZoneResolver().zone(zone, "TimeZone")
    assert caught.value.column == "TimeZone"


def test_a_deployment_can_name_an_ambiguous_abbreviation() -> None:
    zone = ZoneResolver({"IST": "Asia/Kolkata"}).zone("IST", "TimeZone")
    moment = local_to_utc("2024-01-15 10:00:00", zone, "Creation Date")
    assert moment == datetime(2024, 1, 15, 4, 30, tzinfo=UTC)


def test_repeated_and_missing_wall_clock_times() -> None:
    amsterdam = ZoneResolver().zone("Europe/Amsterdam", "TimeZone")
    first = local_to_utc("2024-10-27 02:30:00", amsterdam, "Creation Date")
    assert first == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # fold 0: still summer time
    with pytest.raises(CellError, match="does not exist"):
        local_to_utc("2024-03-31 02:30:00", amsterdam, "Creation Date")
    fixed = timezone(timedelta(hours=1))
    for bad in ("2024-02-30 10:00:00", "2024-01-15T10:00", "15/01/2024 10:00:00", ""):
        with pytest.raises(CellError):
            local_to_utc(bad, fixed, "Creation Date")


def test_options_carry_time_zone_names_into_the_adyen_reader() -> None:
    row = "C,M,p,r,visa,2024-01-15 10:00:00,IST,Settled,m,INR,,5.00,1,INR,,4.90,0.10,,,,,,1,,,,,,,"
    data = f"{','.join(COLUMNS)}\n{row}\n".encode()
    (quarantined,) = read_settlement(io.BytesIO(data))
    assert not isinstance(quarantined, SettlementRecord)
    options = ReadOptions(time_zones={"IST": "Asia/Kolkata"})
    (record,) = read_settlement(io.BytesIO(data), options=options)
    assert isinstance(record, SettlementRecord)
    assert record.booked_at == datetime(2024, 1, 15, 4, 30, tzinfo=UTC)


def test_formats_are_detected_from_their_headers() -> None:
    assert detect_format(COLUMNS) is SettlementFormat.ADYEN
    assert detect_format(COLUMNS[:23]) is SettlementFormat.ADYEN
    stripe = ["automatic_payout_id", "balance_transaction_id", "created_utc", "reporting_category"]
    assert detect_format(stripe) is SettlementFormat.STRIPE
    assert detect_format(["RH", "2024/08/21 02:44:19 -0700", "A", "ACC", "011", ""]) is (
        SettlementFormat.PAYPAL
    )
    with pytest.raises(SettlementFormatError) as caught:
        detect_format(["Date", "Amount"])
    assert (caught.value.line, caught.value.column) == (1, "Date")


def test_a_text_stream_reads_like_bytes() -> None:
    row = "C,M,p,r,visa,2024-01-15 10:00:00,UTC,Settled,m,EUR,,5.00,1,EUR,,4.90,0.10,,,,,,1,,,,,,,"
    text = f"\ufeff{','.join(COLUMNS)}\r\n{row}\r\n"
    from_text = list(read_settlement(io.StringIO(text, newline="")))
    from_bytes = list(read_settlement(io.BytesIO(text.encode())))
    assert from_text == from_bytes
    assert isinstance(from_text[0], SettlementRecord)
    assert from_text[0].raw == row
