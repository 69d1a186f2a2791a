"""Local times of a settlement file, converted to aware datetimes in UTC.

A zone is named by an abbreviation (Adyen writes the one in force, e.g. CET in winter and CEST in
summer, so each abbreviation is a fixed offset), by an IANA name ("Europe/Amsterdam"), or by an
offset ("+01:00", "UTC+01:00"). An IANA name says nothing about which of two repeated wall-clock
times is meant when clocks go back: we take the first (fold 0). A wall-clock time that does not
exist in its zone (skipped when clocks go forward) is not understood. Ambiguous abbreviations
(CST, IST, ...) are not in the table; ReadOptions.time_zones can name them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from payments.psp.settlement.amounts import CellError

_HOURS: dict[str, float] = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2,
    "MET": 1, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "EST": -5, "EDT": -4, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
    "BRT": -3, "ART": -3, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "AWST": 8, "ACST": 9.5,
    "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip
ABBREVIATIONS: dict[str, tzinfo] = {
    name: timezone(timedelta(hours=hours)) for name, hours in _HOURS.items()
}
_OFFSET = re.compile(r"(?:UTC|GMT)?([+-])([0-9]{2}):?([0-9]{2})", re.ASCII)
_LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}", re.ASCII)


class ZoneResolver:
    """Time zone cells resolved once per distinct text (a file names few zones)."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._zones: dict[str, tzinfo | None] = {}

    def zone(self, text: str, column: str) -> tzinfo:
        if text not in self._zones:
            self._zones[text] = self._resolve(text.strip())
        zone = self._zones[text]
        if zone is None:
            raise CellError(column, f"unknown time zone {text!r}")
        return zone

    def _resolve(self, name: str) -> tzinfo | None:
        name = self._overrides.get(name, name)
        if name in ABBREVIATIONS:
            return ABBREVIATIONS[name]
        offset = _OFFSET.fullmatch(name)
        if offset is not None:
            sign = -1 if offset.group(1) == "-" else 1
            minutes = int(offset.group(2)) * 60 + int(offset.group(3))
            return timezone(sign * timedelta(minutes=minutes)) if minutes < 24 * 60 else None
        if (
            "/" not in name
        ):  # only full IANA names: bare keys like "EST5EDT" are not zones we expect
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None


def local_to_utc(text: str, zone: tzinfo, column: str) -> datetime:
    """A "YYYY-MM-DD HH:MM:SS" wall-clock time in `zone` as an aware datetime in UTC."""
    text = text.strip()
    if _LOCAL.fullmatch(text) is None:
        raise CellError(column, f"{text!r} is not a date and time (YYYY-MM-DD HH:MM:SS)")
    try:
        local = datetime.fromisoformat(text).replace(tzinfo=zone)
    except ValueError:
        raise CellError(column, f"{text!r} is not a valid date and time") from None
    moment = local.astimezone(UTC)
    if isinstance(zone, ZoneInfo) and moment.astimezone(zone).replace(tzinfo=None) != (
        local.replace(tzinfo=None)
    ):
        raise CellError(column, f"{text!r} does not exist in {zone} (clocks went forward)")
    return moment
