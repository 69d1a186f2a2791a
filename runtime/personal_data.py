"""The personal-data key table and the sealer the application encrypts buyer_info with
(ADR 0012).

One random 256-bit key per subject (`buyer:<buyer_id>`, else `checkout:<checkout_id>`),
created on first use. The table names a subject only by a digest keyed with a secret of
the installation, kept in the same database. Erasing a subject turns its keys into
tombstones (key NULL, who and when): what was sealed under them is unreadable for good.
Encryption is AES-256-GCM from `cryptography`, under a key derived (HKDF) from the stored
one; the sealed value's key id is its associated data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg import Cursor
from psycopg_pool import ConnectionPool

from payments.domain.group_commit import EventKey
from payments.domain.personal_data import (
    PersonalData,
    SealedPersonalData,
    Sealing,
    names_one_checkout,
)
from payments.projections.pg import fetch_all, fetch_one

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS privacy_keys (
        key_id uuid PRIMARY KEY,
        subject_digest text NOT NULL,
        key bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        erasure_id uuid,
        erased_at timestamptz,
        erased_by text,
        erasure_recorded boolean NOT NULL DEFAULT false,
        CHECK ((key IS NULL) = (erased_at IS NOT NULL))
    )
    """,
    # One live key per subject; tombstones of erased keys stay beside it.
    """
    CREATE UNIQUE INDEX IF NOT EXISTS privacy_keys_live_subject
        ON privacy_keys (subject_digest) WHERE key IS NOT NULL
    """,
    "CREATE INDEX IF NOT EXISTS privacy_keys_subject ON privacy_keys (subject_digest)",
    """
    CREATE TABLE IF NOT EXISTS privacy_installation_secret (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        secret bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
]

KEY_BYTES = 32
NONCE_BYTES = 12
ASSOCIATED_DATA = b"payments.SealedPersonalData.v1:"
CACHE_ENTRIES = 10_000
_SEAL_ATTEMPTS = 3
# For a key used once (a checkout's own): the events that name it commit synchronously after
# it, and their WAL flush makes it durable too; a crash before that loses an unused key.
_ONE_USE_KEY_COMMIT = "SET LOCAL synchronous_commit TO OFF"


@dataclass(frozen=True, slots=True)
class _SubjectKey:
    key_id: UUID
    encryption: AESGCM
    digest_key: bytes


@dataclass(frozen=True, slots=True)
class NewKey:
    """A checkout's own key, made in memory for one sealing (`seal(key_with_events=True)`):
    the event store writes it in the transaction of the events it seals, so neither is
    stored without the other. A live key of the same subject already stored fails that
    transaction (the unique index), like a conflicting event."""

    key_id: UUID
    subject_digest: str
    key: bytes

    @classmethod
    def write_all(cls, cursor: Cursor[Any], rows: Sequence[NewKey]) -> None:
        """The keys of a save (of several, under group commit) in one statement, in the order
        of their subjects: two transactions holding keys of the same checkouts (a repeat sent
        to two processes at once) wait for each other in one order, never in a cycle."""
        rows = sorted(rows, key=lambda row: row.subject_digest)
        cursor.execute(
            "INSERT INTO privacy_keys (key_id, subject_digest, key) "
            "SELECT * FROM unnest(%b::uuid[], %b::text[], %b::bytea[])",
            (
                [row.key_id for row in rows],
                [row.subject_digest for row in rows],
                [row.key for row in rows],
            ),
        )

    @classmethod
    def write_after(
        cls, cursor: Cursor[Any], rows: Sequence[NewKey], positions: Mapping[EventKey, int]
    ) -> None:
        """Nothing after the events: the key is written before them."""


@dataclass(frozen=True, slots=True)
class PersonalDataReading:
    """What can be read of a checkout's buyer_info: the data, or why not."""

    state: Literal["readable", "erased", "unreadable"]
    buyer_info: dict[str, Any] | None
    encrypted: bool
    erased_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ErasedKeys:
    """Keys turned into tombstones by one erasure."""

    erasure_id: UUID
    key_ids: list[UUID]
    erased_at: datetime
    erased_by: str


def _derive(key: bytes, purpose: bytes) -> bytes:
    info = b"payments personal data " + purpose
    return HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


def _subject_key(key_id: UUID, key: bytes) -> _SubjectKey:
    return _SubjectKey(key_id, AESGCM(_derive(key, b"encryption v1")), _derive(key, b"digest v1"))


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """One byte string per content: sorted keys, no spaces, ASCII (escapes any character)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


class PersonalDataKeys:
    """The key table, and the `PersonalDataSealer` the application seals buyer_info with.

    Sealing keeps a buyer's key in memory for `cache_seconds` (0: never), so a repeat
    buyer costs no database round trip; opening always asks the table, so an erasure
    stops every process from reading at once.
    """

    def __init__(
        self,
        pool: ConnectionPool,
        cache_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, _SubjectKey]] = OrderedDict()
        self._lock = threading.Lock()
        self._secret: bytes | None = None

    # --- the installation secret: subject digests and request fingerprints ---------------

    def _installation_secret(self) -> bytes:
        if self._secret is None:
            with self.pool.connection() as conn:
                conn.execute(
                    "INSERT INTO privacy_installation_secret (secret) VALUES (%s) "
                    "ON CONFLICT DO NOTHING",
                    (os.urandom(KEY_BYTES),),
                )
                row = conn.execute("SELECT secret FROM privacy_installation_secret").fetchone()
            assert row is not None
            self._secret = bytes(row[0])
        return self._secret

    def subject_digest(self, subject: str) -> str:
        """The subject as the key table and the erasure records name it."""
        secret = self._installation_secret()
        return hmac.new(secret, b"subject\x00" + subject.encode(), hashlib.sha256).hexdigest()

    def keyed_hash(self, content: bytes) -> str:
        """A fingerprint of a request body that holds personal data (Idempotency-Key rows):
        keyed, so that a row cannot confirm a guess of the body without the secret."""
        secret = self._installation_secret()
        return hmac.new(secret, b"request\x00" + content, hashlib.sha256).hexdigest()

    # --- sealing ---------------------------------------------------------------------------

    def seal(
        self, subject: str, data: Mapping[str, Any], *, key_with_events: bool = False
    ) -> Sealing:
        new_key: NewKey | None = None
        if key_with_events and names_one_checkout(subject):
            new_key = NewKey(uuid.uuid4(), self.subject_digest(subject), os.urandom(KEY_BYTES))
            key = _subject_key(new_key.key_id, new_key.key)
        else:
            key = self._key_for(subject)
        plaintext = canonical_json(data)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = key.encryption.encrypt(nonce, plaintext, ASSOCIATED_DATA + key.key_id.bytes)
        digest = hmac.new(key.digest_key, plaintext, hashlib.sha256).hexdigest()
        return Sealing(SealedPersonalData(key.key_id, nonce + ciphertext), digest, new_key)

    def _key_for(self, subject: str) -> _SubjectKey:
        """A buyer's key comes from the cache while fresh; a checkout's own key is used once
        and never cached (ADR 0012: a cached key must be durable)."""
        one_use = names_one_checkout(subject)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(subject)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(subject)
                return cached[1]
        key = self._live_key(self.subject_digest(subject), durable=not one_use)
        if self.cache_seconds > 0 and not one_use:
            with self._lock:
                self._cache[subject] = (now + self.cache_seconds, key)
                self._cache.move_to_end(subject)
                while len(self._cache) > CACHE_ENTRIES:
                    self._cache.popitem(last=False)
        return key

    def _live_key(self, subject_digest: str, *, durable: bool) -> _SubjectKey:
        """The subject's live key, created now if it has none (concurrency-safe: one
        statement inserts it or, when another writer came first, reads theirs)."""
        for _ in range(_SEAL_ATTEMPTS):
            # Pipelined: SET and the statement in one round trip, the commit in another.
            with self.pool.connection() as conn, conn.pipeline():
                if not durable:
                    conn.execute(_ONE_USE_KEY_COMMIT)
                row = conn.execute(
                    """
                    WITH created AS (
                        INSERT INTO privacy_keys (key_id, subject_digest, key)
                        VALUES (%(key_id)s, %(subject)s, %(key)s)
                        ON CONFLICT (subject_digest) WHERE key IS NOT NULL DO NOTHING
                        RETURNING key_id, key
                    )
                    SELECT key_id, key FROM created
                    UNION ALL
                    SELECT key_id, key FROM privacy_keys
                    WHERE subject_digest = %(subject)s AND key IS NOT NULL
                    """,
                    {
                        "key_id": uuid.uuid4(),
                        "subject": subject_digest,
                        "key": os.urandom(KEY_BYTES),
                    },
                ).fetchone()
            # Nothing: another writer created the key after this statement's snapshot.
            if row is not None:
                return _subject_key(row[0], bytes(row[1]))
        raise RuntimeError("could not create or read a personal-data key")

    # --- opening ---------------------------------------------------------------------------

    def open(self, value: PersonalData) -> PersonalDataReading:
        """buyer_info as readable now: never raises for an erased or missing key."""
        if isinstance(value, dict):  # recorded in clear, before ADR 0012
            return PersonalDataReading("readable", value, encrypted=False)
        row = fetch_one(
            self.pool,
            "SELECT key, erased_at FROM privacy_keys WHERE key_id = %s",
            (value.key_id,),
        )
        if row is None:
            return PersonalDataReading("unreadable", None, encrypted=True)
        if row[0] is None:
            return PersonalDataReading("erased", None, encrypted=True, erased_at=row[1])
        key = _subject_key(value.key_id, bytes(row[0]))
        nonce, ciphertext = value.ciphertext[:NONCE_BYTES], value.ciphertext[NONCE_BYTES:]
        try:
            plaintext = key.encryption.decrypt(
                nonce, ciphertext, ASSOCIATED_DATA + value.key_id.bytes
            )
        except (InvalidTag, ValueError):
            return PersonalDataReading("unreadable", None, encrypted=True)
        data: dict[str, Any] = json.loads(plaintext)
        return PersonalDataReading("readable", data, encrypted=True)

    # --- erasing ---------------------------------------------------------------------------

    def erase(self, subject: str, erased_by: str) -> ErasedKeys | None:
        """Turn the subject's live keys into tombstones now; None when it has none."""
        with self._lock:
            self._cache.pop(subject, None)
        erasure_id = uuid.uuid4()
        with self.pool.connection() as conn:
            rows = conn.execute(
                """
                UPDATE privacy_keys
                SET key = NULL, erased_at = now(), erasure_id = %s, erased_by = %s
                WHERE subject_digest = %s AND key IS NOT NULL
                RETURNING key_id, erased_at
                """,
                (erasure_id, erased_by, self.subject_digest(subject)),
            ).fetchall()
        if not rows:
            return None
        return ErasedKeys(erasure_id, sorted(row[0] for row in rows), rows[0][1], erased_by)

    def unrecorded_erasures(self, subject: str) -> list[ErasedKeys]:
        """Erasures whose keys are tombstones but whose event is not recorded yet (the
        process stopped in between), oldest first."""
        rows = fetch_all(
            self.pool,
            """
            SELECT erasure_id, array_agg(key_id ORDER BY key_id), min(erased_at),
                   min(erased_by)
            FROM privacy_keys
            WHERE subject_digest = %s AND key IS NULL AND NOT erasure_recorded
            GROUP BY erasure_id ORDER BY min(erased_at)
            """,
            (self.subject_digest(subject),),
        )
        return [ErasedKeys(row[0], list(row[1]), row[2], row[3]) for row in rows]

    def mark_recorded(self, erasure_id: UUID) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE privacy_keys SET erasure_recorded = true WHERE erasure_id = %s",
                (erasure_id,),
            )

    def last_erasure(self, subject: str) -> ErasedKeys | None:
        """The subject's latest erasure, if it was ever erased."""
        row = fetch_one(
            self.pool,
            """
            SELECT erasure_id, array_agg(key_id ORDER BY key_id), max(erased_at),
                   min(erased_by)
            FROM privacy_keys WHERE subject_digest = %s AND key IS NULL
            GROUP BY erasure_id ORDER BY max(erased_at) DESC LIMIT 1
            """,
            (self.subject_digest(subject),),
        )
        return None if row is None else ErasedKeys(row[0], list(row[1]), row[2], row[3])
