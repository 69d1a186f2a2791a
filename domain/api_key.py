"""ApiKey: who may call the API, with which role (DESIGN §11, ADR 0013).

The key itself is shown once and never stored: the aggregate keeps its id (visible in the
key's prefix, so a key seen in a log can be recognised and revoked), a hash of its secret,
the role, and for a seller key the one seller account it may read. A key is revoked at once,
or, when rotated, stays valid until a grace period ends.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain.errors import FieldError, IllegalTransition, InvalidCommand
from payments.domain.ids import api_key_uuid
from payments.domain.reasons import require_reason


class Role(Enum):
    MERCHANT = "merchant"  # create checkouts, read orders and checkouts, request refunds
    OPERATOR = "operator"  # dead letters and replays, stuck orders, manual payouts
    FINANCE = "finance"  # reconciliation, ledger, wallets, audit, exports
    SELLER = "seller"  # one seller account's wallet, payouts and ledger account
    ADMIN = "admin"  # everything, including keys


MAX_NAME_LENGTH = 100


class ApiKey(Aggregate):
    TOPIC = "payments.ApiKey"

    class Created(Aggregate.Created):
        TOPIC = "payments.ApiKey.Created.v1"
        key_id: str
        role: str
        seller_account: str | None
        name: str
        secret_hash: str  # hex SHA-256 of the secret part of the key (ADR 0013)
        created_by: str  # the key id of the admin who created it, or "cli"

    class Revoked(Aggregate.Event):
        TOPIC = "payments.ApiKey.Revoked.v1"
        revoked_by: str
        reason: str

    class ExpirySet(Aggregate.Event):
        """Rotated: valid until `expires_at`, replaced by `replaced_by`."""

        TOPIC = "payments.ApiKey.ExpirySet.v1"
        expires_at: datetime
        replaced_by: str
        set_by: str

    @staticmethod
    def create_id(key_id: str) -> UUID:
        return api_key_uuid(key_id)

    @classmethod
    def issue(
        cls,
        key_id: str,
        role: Role,
        seller_account: str | None,
        name: str,
        secret_hash: str,
        created_by: str,
    ) -> ApiKey:
        """A new key: a seller key names exactly one seller account, no other key does."""
        errors: list[FieldError] = []
        if (role is Role.SELLER) != (seller_account is not None):
            errors.append(
                FieldError("seller_account", "is required for a seller key and only for one")
            )
        if len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 for c in name):
            errors.append(
                FieldError("name", f"must be at most {MAX_NAME_LENGTH} printable characters")
            )
        if errors:
            raise InvalidCommand(errors)
        return cls(
            key_id=key_id,
            role=role.value,
            seller_account=seller_account,
            name=name,
            secret_hash=secret_hash,
            created_by=created_by,
        )

    @event(Created)
    def __init__(
        self,
        key_id: str,
        role: str,
        seller_account: str | None,
        name: str,
        secret_hash: str,
        created_by: str,
    ) -> None:
        self.key_id = key_id
        self.role = Role(role)
        self.seller_account = seller_account
        self.name = name
        self.secret_hash = secret_hash
        self.created_by = created_by
        self.revoked = False
        self.expires_at: datetime | None = None
        self.replaced_by: str | None = None

    def is_valid_at(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)

    def revoke(self, by: str, reason: str) -> None:
        """No longer valid, from now on; revoking a revoked key is refused."""
        require_reason(reason)
        if self.revoked:
            raise IllegalTransition("revoked", "revoked")
        self._revoked(revoked_by=by, reason=reason)

    def expire(self, at: datetime, replaced_by: str, by: str) -> None:
        """Rotated: still valid until `at` (the grace period), then not."""
        if self.revoked:
            raise IllegalTransition("revoked", "rotated")
        if self.replaced_by is not None:
            raise IllegalTransition(f"rotated to {self.replaced_by}", "rotated again")
        self._expiry_set(expires_at=at, replaced_by=replaced_by, set_by=by)

    @event(Revoked)
    def _revoked(self, revoked_by: str, reason: str) -> None:
        self.revoked = True

    @event(ExpirySet)
    def _expiry_set(self, expires_at: datetime, replaced_by: str, set_by: str) -> None:
        self.expires_at = expires_at
        self.replaced_by = replaced_by
