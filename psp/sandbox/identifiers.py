"""Random identifiers and UTC timestamps of sandbox objects."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime

_LOWER = string.ascii_lowercase
_ALPHANUMERIC = string.ascii_letters + string.digits


def new_token(prefix: str = "tok") -> str:
    """The prefix, `_` and 24 lower-case letters: no digit, so a token never looks like a card
    or an account number."""
    return f"{prefix}_" + _random_text(_LOWER, 24)


def new_id(prefix: str) -> str:
    return f"{prefix}_" + _random_text(_ALPHANUMERIC, 24)


def _random_text(alphabet: str, length: int) -> str:
    """`length` characters drawn uniformly from `alphabet`: one random number below
    len(alphabet) ** length, written in that base. One read of the system's randomness per
    identifier, where a `secrets.choice` per character made one read each (24 per id, a few
    per cent of the sandbox's time under load)."""
    base = len(alphabet)
    number = secrets.randbelow(base**length)
    characters = []
    for _ in range(length):
        number, digit = divmod(number, base)
        characters.append(alphabet[digit])
    return "".join(characters)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """`2026-11-25T15:09:22.123456Z`: sortable text, always UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
