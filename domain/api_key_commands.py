"""Commands on API keys: issue, revoke, rotate (DESIGN §11, ADR 0013).

The key material (an id and a random secret) is made by the caller; the domain keeps the id
and the secret's hash, decides who may hold which role, and records who did it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from payments.domain.api_key import ApiKey, Role
from payments.domain.application import PaymentsApplication
from payments.domain.errors import FieldError, InvalidCommand, found
from payments.domain.ids import api_key_uuid

MAX_GRACE = timedelta(days=30)


class ApiKeyCommands:
    def __init__(self, application: PaymentsApplication) -> None:
        self.application = application

    def find(self, key_id: str) -> ApiKey | None:
        return self.application.find(ApiKey, api_key_uuid(key_id))

    def get(self, key_id: str) -> ApiKey:
        return found(self.find(key_id), f"API key {key_id!r}")

    def issue(
        self,
        key_id: str,
        secret_hash: str,
        role: Role,
        seller_account: str | None,
        name: str,
        by: str,
    ) -> int | None:
        key = ApiKey.issue(key_id, role, seller_account, name, secret_hash, by)
        return self.application.record(key)

    def revoke(self, key_id: str, by: str, reason: str) -> int | None:
        key = self.get(key_id)
        key.revoke(by, reason)
        return self.application.record(key)

    def rotate(
        self,
        key_id: str,
        new_key_id: str,
        new_secret_hash: str,
        grace: timedelta,
        now: datetime,
        by: str,
    ) -> tuple[ApiKey, int | None]:
        """A new key with the same role, seller and name; the old one stays valid for
        `grace` (0 to 30 days), then not. Both recorded in one save."""
        if not timedelta(0) <= grace <= MAX_GRACE:
            raise InvalidCommand([FieldError("grace", "must be between 0 and 30 days")])
        old = self.get(key_id)
        new = ApiKey.issue(new_key_id, old.role, old.seller_account, old.name, new_secret_hash, by)
        old.expire(now + grace, new_key_id, by)
        return new, self.application.record(old, new)
