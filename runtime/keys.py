"""API keys: their text, their hash, and checking a presented key (ADR 0013).

A key reads `pk_test_<id>_<secret>` (`pk_live_` in production mode): the prefix and id are
what logs and lists show; the secret is 32 random bytes, shown once at creation and stored
only as its SHA-256. Checking a key loads its ApiKey aggregate by id (one indexed read) and
compares hashes in constant time; answers are cached for a short while per process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from payments.domain.api_key import ApiKey, Role
from payments.domain.api_key_commands import ApiKeyCommands

TEST_PREFIX, LIVE_PREFIX = "pk_test_", "pk_live_"
ID_LENGTH = 12
_KEY_TEXT = re.compile(r"^(pk_(?:test|live)_)([a-z2-7]{12})_([A-Za-z0-9_-]{43})$", re.ASCII)
CACHE_SECONDS = 2.0  # a revocation elsewhere takes effect within this (docs/security.md)


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key as issued: `text` is shown once and never stored."""

    key_id: str
    text: str
    secret_hash: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's id and role, and for a seller key its account."""

    key_id: str
    role: Role
    seller_account: str | None = None

    def may_read_seller(self, seller_account: str) -> bool:
        """A seller key reads its own seller's data only; the routes' roles decide the rest."""
        return self.role is not Role.SELLER or self.seller_account == seller_account

    def may_read_account(self, account: str) -> bool:
        """A seller key reads its own ledger accounts only (`seller:{s}`, `seller:{s}:...`)."""
        if self.role is not Role.SELLER:
            return True
        kind, _, rest = account.partition(":")
        return kind == "seller" and rest.partition(":")[0] == self.seller_account


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def new_key(live: bool) -> NewKey:
    key_id = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()[:ID_LENGTH]
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
    prefix = LIVE_PREFIX if live else TEST_PREFIX
    return NewKey(key_id, f"{prefix}{key_id}_{secret}", hash_secret(secret))


def parse_key(text: str) -> tuple[str, str, str] | None:
    """(prefix, key id, secret) of a well-formed key, else None."""
    match = _KEY_TEXT.fullmatch(text)
    return None if match is None else (match.group(1), match.group(2), match.group(3))


def visible_prefix(text: str) -> str:
    """The part of a presented key that may be logged: prefix and id, never the secret."""
    parsed = parse_key(text)
    return "malformed" if parsed is None else f"{parsed[0]}{parsed[1]}"


class KeyRing:
    """Checks presented keys against their aggregates; caches each key's state briefly."""

    def __init__(
        self,
        commands: ApiKeyCommands,
        *,
        live: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.commands = commands
        self.prefix = LIVE_PREFIX if live else TEST_PREFIX
        self.clock = clock
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def caller(self, text: str) -> Caller | None:
        """The caller a presented key stands for, or None (malformed, unknown, revoked,
        expired, or a key of the other mode)."""
        parsed = parse_key(text)
        if parsed is None or parsed[0] != self.prefix:
            return None
        return self._check(parsed[2], self._load(parsed[1]))

    def cached_caller(self, text: str) -> tuple[bool, Caller | None]:
        """(True, what `caller` answers) when that needs no database read: a malformed key or
        one whose state is cached and fresh. (False, None) when `caller` must load the key:
        the event loop answers most requests itself and hands only the rest to a thread."""
        parsed = parse_key(text)
        if parsed is None or parsed[0] != self.prefix:
            return True, None
        cached = self._fresh(parsed[1], time.monotonic())
        if cached is None:
            return False, None
        return True, self._check(parsed[2], cached[1])

    def _check(self, secret: str, key: ApiKey | None) -> Caller | None:
        presented = hash_secret(secret)
        if key is None:
            hmac.compare_digest(presented, presented)  # the same work as for a known key
            return None
        if not hmac.compare_digest(presented, key.secret_hash) or not key.is_valid_at(self.clock()):
            return None
        return Caller(key.key_id, key.role, key.seller_account)

    def caller_by_id(self, key_id: str) -> Caller | None:
        """The caller of a key known by its id (a console session), while it stays valid:
        a revocation or expiry ends the session as it ends the key."""
        key = self._load(key_id)
        if key is None or not key.is_valid_at(self.clock()):
            return None
        return Caller(key.key_id, key.role, key.seller_account)

    def forget(self, key_id: str) -> None:
        """Drop a cached key (this process revoked or rotated it)."""
        with self._lock:
            self._cache.pop(key_id, None)

    def _load(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        cached = self._fresh(key_id, now)
        if cached is not None:
            return cached[1]
        key = self.commands.find(key_id)
        with self._lock:
            if len(self._cache) > 10_000:  # bounded: unknown ids must not grow it forever
                self._cache.clear()
            self._cache[key_id] = (now, key)
        return key

    def _fresh(self, key_id: str, now: float) -> tuple[float, ApiKey | None] | None:
        """The cached (time, key) of key_id while younger than CACHE_SECONDS, else None."""
        with self._lock:
            cached = self._cache.get(key_id)
        return cached if cached is not None and now - cached[0] < CACHE_SECONDS else None
