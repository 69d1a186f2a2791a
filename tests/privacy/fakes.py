"""A sealer for pure domain tests: no cryptography, no table, just the sealer's contract."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from payments.domain.personal_data import SealedPersonalData, Sealing


class InMemorySealer:
    """One key id per subject until erased; keeps what it 'sealed' beside it."""

    def __init__(self) -> None:
        self.keys: dict[str, UUID] = {}
        self.sealed: dict[bytes, dict[str, Any]] = {}
        self.subjects: list[str] = []

    def seal(
        self, subject: str, data: Mapping[str, Any], *, key_with_events: bool = False
    ) -> Sealing:
        self.subjects.append(subject)
        key_id = self.keys.setdefault(subject, uuid.uuid4())
        handle = uuid.uuid4().bytes
        self.sealed[handle] = dict(data)
        content = key_id.bytes + json.dumps(data, sort_keys=True).encode()
        return Sealing(SealedPersonalData(key_id, handle), hashlib.sha256(content).hexdigest())

    def erase(self, subject: str) -> None:
        del self.keys[subject]
