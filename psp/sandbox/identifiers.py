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
    return f"{prefix}_" + "".join(secrets.choice(_LOWER) for _ in range(24))


def new_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(24))


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """`2026-11-25T15:09:22.123456Z`: sortable text, always UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
