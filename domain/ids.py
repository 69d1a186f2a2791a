"""Deterministic aggregate ids: the business id decides, so a retry creates nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid5

# Fixed forever: changing it would orphan every stored aggregate.
PAYMENTS_NAMESPACE = UUID("6f1c3c2e-5c1b-4f57-9a51-0c6f4f2b9d10")


def _uuid_of(kind: str) -> Callable[[str], UUID]:
    """The id function of one aggregate kind: uuid5 of "kind:business id"."""

    def business_uuid(business_id: str) -> UUID:
        return uuid5(PAYMENTS_NAMESPACE, f"{kind}:{business_id}")

    return business_uuid


# The kind strings are part of every stored id: never change one.
checkout_uuid = _uuid_of("checkout")
payment_order_uuid = _uuid_of("payment_order")
seller_wallet_uuid = _uuid_of("seller_wallet")
payout_uuid = _uuid_of("payout")
api_key_uuid = _uuid_of("api_key")
dispute_uuid = _uuid_of("dispute")
refund_uuid = _uuid_of("refund")
seller_uuid = _uuid_of("seller")
reconciliation_run_uuid = _uuid_of("reconciliation_run")  # of the file's SHA-256: one run a file
webhook_endpoint_uuid = _uuid_of("webhook_endpoint")
