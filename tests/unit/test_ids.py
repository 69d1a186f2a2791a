"""Aggregate ids are stored history: the same business id must give the same uuid forever."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest

from payments.domain import ids

# Computed once from the released code; a change here orphans every stored aggregate.
PINNED = {
    ids.checkout_uuid: "b0dc9a6b-ad0d-581c-a939-afa3f60dd361",
    ids.payment_order_uuid: "cd0193d2-3b46-5e1e-95ea-51fe847c5c7d",
    ids.seller_wallet_uuid: "6cc939fd-916b-514b-9a08-77b40ac00b62",
    ids.payout_uuid: "a353b4e5-872f-5e76-becf-0de7c5fce44a",
    ids.api_key_uuid: "c806b5ac-5813-5d27-8734-650c288cbb93",
    ids.dispute_uuid: "5877af38-cace-560e-baab-f78041f56af0",
    ids.refund_uuid: "6bbcef5f-a1a0-5fc2-a528-b9697dcf2f1f",
    ids.seller_uuid: "5b933c65-00f2-5250-a76a-766f79050e38",
}


@pytest.mark.parametrize(("id_of", "pinned"), PINNED.items())
def test_each_aggregate_id_is_the_pinned_uuid5_of_its_business_id(
    id_of: Callable[[str], UUID], pinned: str
) -> None:
    assert id_of("b-1") == UUID(pinned)
