"""Deterministic aggregate ids: the business id decides, so a retry creates nothing twice."""

from __future__ import annotations

from uuid import UUID, uuid5

# Fixed forever: changing it would orphan every stored aggregate.
PAYMENTS_NAMESPACE = UUID("6f1c3c2e-5c1b-4f57-9a51-0c6f4f2b9d10")


def checkout_uuid(checkout_id: str) -> UUID:
    return uuid5(PAYMENTS_NAMESPACE, f"checkout:{checkout_id}")


def payment_order_uuid(payment_order_id: str) -> UUID:
    return uuid5(PAYMENTS_NAMESPACE, f"payment_order:{payment_order_id}")


def seller_wallet_uuid(seller_account: str) -> UUID:
    return uuid5(PAYMENTS_NAMESPACE, f"seller_wallet:{seller_account}")


def payout_uuid(payout_id: str) -> UUID:
    return uuid5(PAYMENTS_NAMESPACE, f"payout:{payout_id}")


def api_key_uuid(key_id: str) -> UUID:
    return uuid5(PAYMENTS_NAMESPACE, f"api_key:{key_id}")


def dispute_uuid(psp_dispute_id: str) -> UUID:
    return uuid5(PAYMENTS_NAMESPACE, f"dispute:{psp_dispute_id}")


def refund_uuid(refund_id: str) -> UUID:
    return uuid5(PAYMENTS_NAMESPACE, f"refund:{refund_id}")


def seller_uuid(seller_account: str) -> UUID:
    return uuid5(PAYMENTS_NAMESPACE, f"seller:{seller_account}")
