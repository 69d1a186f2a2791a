"""The Seller aggregate and the seller rules for charges and payouts (pure domain)."""

from __future__ import annotations

import pytest

from payments.domain.errors import IllegalTransition, SellerConflict
from payments.domain.payout_commands import PayoutCommands
from payments.domain.seller import KycStatus, Seller
from payments.domain.seller_commands import (
    DEFAULT_SELLER_POLICY,
    RegisterSeller,
    SellerCommands,
    SellerPolicy,
    SuspendedSellers,
    UnverifiedSellers,
)
from tests.privacy.fakes import InMemorySealer
from tests.unit.apps import make_app


def registered(policy: SellerPolicy = DEFAULT_SELLER_POLICY, account: str = "s1") -> SellerCommands:
    commands = SellerCommands(make_app(), policy)
    data = {"legal_name": "Ada", "contact": {"email": "a@b.c"}, "id_number": "000000000"}
    commands.register(RegisterSeller(account, "DE", "btok_abcd", data, "key1"))
    return commands


def test_kyc_goes_from_unverified_to_pending_to_a_decision_that_is_final() -> None:
    sellers = registered()
    assert sellers.get("s1").kyc is KycStatus.UNVERIFIED
    with pytest.raises(IllegalTransition):  # no decision before the PSP accepted the seller
        sellers.record_decision("s1", "verified", None, "webhook")
    assert sellers.record_submitted("s1", "acct_1", "pending") is not None
    assert sellers.record_submitted("s1", "acct_2", "verified") is None  # a repeat: ignored
    assert sellers.record_decision("s1", "pending", None, "requery") is None
    assert sellers.record_decision("s1", "rejected", "id_mismatch", "webhook") is not None
    seller = sellers.get("s1")
    assert (seller.kyc, seller.rejection_reason, seller.psp_account_id) == (
        KycStatus.REJECTED,
        "id_mismatch",
        "acct_1",
    )
    assert sellers.record_decision("s1", "rejected", None, "requery") is None
    with pytest.raises(IllegalTransition):
        sellers.record_decision("s1", "verified", None, "webhook")


def test_a_seller_is_registered_once_and_its_personal_data_is_sealed_under_its_key() -> None:
    sellers = registered()
    sealer = sellers.application.sealer
    assert isinstance(sealer, InMemorySealer)
    assert sealer.subjects == ["seller:s1"]
    assert sealer.sealed[sellers.get("s1").personal_data.ciphertext]["legal_name"] == "Ada"
    with pytest.raises(SellerConflict):
        sellers.register(RegisterSeller("s1", "FR", "btok_other", {}, "key2"))


def test_only_a_verified_seller_not_suspended_may_be_paid_out() -> None:
    sellers = registered()
    assert "not onboarded" in str(sellers.payout_refusal("nobody"))
    assert "KYC unverified" in str(sellers.payout_refusal("s1"))
    sellers.record_submitted("s1", "acct_1", "verified")
    assert sellers.payout_refusal("s1") is None
    sellers.suspend("s1", "fraud", "op1")
    assert sellers.suspend("s1", "again", "op1") is None  # a repeat changes nothing
    assert "suspended (fraud)" in str(sellers.payout_refusal("s1"))
    sellers.reinstate("s1", "cleared", "op1")
    assert sellers.payout_refusal("s1") is None
    off = SellerCommands(sellers.application, SellerPolicy(payouts_require_kyc=False))
    assert off.payout_refusal("nobody") is None


def test_a_payout_to_an_unverified_seller_writes_nothing() -> None:
    sellers = registered()
    payouts = PayoutCommands(sellers.application, sellers)
    run = payouts.run_payouts("2030-01-01", ["s1"], 0)
    assert run.as_dict()["below_minimum"] == 1  # no wallet: nothing due, nothing asked
    assert sellers.application.find_wallet("s1") is None


@pytest.mark.parametrize(
    ("policy", "unknown", "unverified", "suspended"),
    [
        (SellerPolicy(), None, None, "suspended"),
        (SellerPolicy(UnverifiedSellers.REFUSE), "not onboarded", "KYC pending", "suspended"),
        (SellerPolicy(suspended=SuspendedSellers.ACCEPT_CHARGES), None, None, None),
    ],
)
def test_charges_follow_the_seller_policy(
    policy: SellerPolicy, unknown: str | None, unverified: str | None, suspended: str | None
) -> None:
    sellers = registered(policy)
    sellers.record_submitted("s1", "acct_1", "pending")
    registered_too = SellerCommands(sellers.application, policy)
    data = {"legal_name": "B", "contact": {}, "id_number": "1"}
    registered_too.register(RegisterSeller("s2", "DE", "btok_abcd", data, "key1"))
    sellers.record_submitted("s2", "acct_2", "verified")
    sellers.suspend("s2", "fraud", "op1")
    for account, expected in (("nobody", unknown), ("s1", unverified), ("s2", suspended)):
        found = sellers.charge_refusal(account)
        assert (found is None) == (expected is None), (account, found)
        assert expected is None or expected in str(found)
    errors = sellers.charge_refusals([("payment_orders[0].seller_account", "s2", "po_9")])
    assert [e.message.startswith("order 'po_9'") for e in errors] == ([True] if suspended else [])


def test_an_update_changes_only_what_differs() -> None:
    seller: Seller = registered().get("s1")
    assert seller.update("btok_abcd", None, "k") is False
    assert seller.update("btok_new", None, "k") is True
    assert seller.bank_token == "btok_new"
