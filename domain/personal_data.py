"""Personal data (a checkout's buyer_info) as the event store keeps it: sealed (ADR 0012).

The domain never sees a key and does no cryptography: a `PersonalDataSealer`, given by the
composition root, encrypts buyer_info under its subject's key (one per buyer, held in a key
table outside the event log) and answers what to store. Erasing a subject's key makes what
was sealed under it unreadable for good, while the events themselves stay as they were.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Transcoding

from payments.domain.errors import FieldError

BUYER_ID_FIELD = "buyer_id"
MAX_BUYER_ID_LENGTH = 128


@dataclass(frozen=True, slots=True)
class SealedPersonalData:
    """buyer_info encrypted (AES-GCM) under the key `key_id` of the key table."""

    key_id: UUID
    ciphertext: bytes


# What a Checkout holds: sealed, or (checkouts placed before ADR 0012) the plain dict.
PersonalData = SealedPersonalData | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Sealing:
    """A sealer's answer: what to store, and a digest of the content keyed by the subject's
    key (equal content, equal digest; meaningless once the key is erased)."""

    sealed: SealedPersonalData
    digest: str
    # A key made for this sealing and not stored yet (opaque here): the save of the events
    # that hold `sealed` must write it in their transaction (`with_events`), or nothing can
    # open them. None when the key is stored already.
    key_to_store: object | None = None


class PersonalDataSealer(Protocol):
    def seal(
        self, subject: str, data: Mapping[str, Any], *, key_with_events: bool = False
    ) -> Sealing:
        """Encrypt data under the subject's key, creating the key on first use. With
        `key_with_events`, a new key used once (a checkout's own) may be left for the
        caller's save to write (`Sealing.key_to_store`) instead of in a transaction of its
        own."""
        ...


BUYER_PREFIX, CHECKOUT_PREFIX = "buyer:", "checkout:"


def buyer_subject(buyer_id: str) -> str:
    return BUYER_PREFIX + buyer_id


def checkout_subject(checkout_id: str) -> str:
    return CHECKOUT_PREFIX + checkout_id


def names_one_checkout(subject: str) -> bool:
    """A checkout's own subject seals that checkout only: its key is used once."""
    return subject.startswith(CHECKOUT_PREFIX)


def subject_of(buyer_info: Mapping[str, Any], checkout_id: str) -> str:
    """Whose key seals buyer_info: the buyer's (buyer_info.buyer_id), else the checkout's own."""
    buyer_id = buyer_info.get(BUYER_ID_FIELD)
    if isinstance(buyer_id, str):
        return buyer_subject(buyer_id)
    return checkout_subject(checkout_id)


def buyer_id_errors(buyer_info: Mapping[str, Any]) -> list[FieldError]:
    """buyer_info.buyer_id, when given, names the buyer: a non-empty string, 128 at most, no
    control character (it names the buyer's key, kept as text; the rest of buyer_info is
    sealed, stored as ciphertext only)."""
    if BUYER_ID_FIELD not in buyer_info:
        return []
    buyer_id = buyer_info[BUYER_ID_FIELD]
    field = f"buyer_info.{BUYER_ID_FIELD}"
    if not isinstance(buyer_id, str) or not 1 <= len(buyer_id) <= MAX_BUYER_ID_LENGTH:
        return [FieldError(field, f"must be a string of 1 to {MAX_BUYER_ID_LENGTH} characters")]
    if any(ord(c) < 0x20 or c == "\x7f" for c in buyer_id):
        return [FieldError(field, "must hold no control character (U+0000 to U+001F, U+007F)")]
    return []


class SealedPersonalDataAsDict(Transcoding):
    """Stores SealedPersonalData as {"key_id": hex, "ciphertext": base64}."""

    type = SealedPersonalData
    name = "payments.SealedPersonalData"

    def encode(self, obj: SealedPersonalData) -> dict[str, str]:
        return {"key_id": obj.key_id.hex, "ciphertext": base64.b64encode(obj.ciphertext).decode()}

    def decode(self, data: dict[str, str]) -> SealedPersonalData:
        return SealedPersonalData(UUID(data["key_id"]), base64.b64decode(data["ciphertext"]))
