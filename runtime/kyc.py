"""Sellers' KYC wired to this process: the PSP's onboarding client, a seller's sealed details
opened for a resubmission, and the KYC job's pass over sellers awaiting the PSP (#17)."""

from __future__ import annotations

import logging
from collections import Counter

from payments.domain.seller import Seller
from payments.projections.followers.follower import Follower
from payments.projections.source import ApplicationEventSource
from payments.projections.views.sellers import SellersView
from payments.psp import onboarding
from payments.psp.onboarding import HttpOnboarding, KycDetails
from payments.runtime.services import Services

log = logging.getLogger("payments.kyc")
KYC_BATCH = 500


class NoOnboarding(RuntimeError):
    """No PSP is configured (PAYMENTS_PSP_URL): KYC cannot be submitted or looked up."""


def onboarding_client(services: Services) -> HttpOnboarding:
    if not services.psp_url:
        raise NoOnboarding("no PSP configured: set PAYMENTS_PSP_URL")
    return HttpOnboarding(
        services.psp_url,
        timeout_s=services.settings.executor.psp_timeout_s,
        api_key=services.settings.psp_api_key,
    )


def details_of(services: Services, seller: Seller) -> KycDetails | None:
    """What the PSP's onboarding needs, opened from the seller's sealed data (None: erased)."""
    reading = services.personal_data.open(seller.personal_data)
    data = reading.buyer_info
    if data is None:
        return None
    return KycDetails(
        seller_account=seller.seller_account,
        legal_name=str(data["legal_name"]),
        country=seller.country,
        id_number=str(data["id_number"]),
        bank_token=seller.bank_token,
    )


def submit(services: Services, seller_account: str) -> str:
    """Send a newly registered seller to the PSP's onboarding; the answer in words."""
    seller = services.sellers.get(seller_account)
    details = details_of(services, seller)
    if details is None:
        return "cannot submit: the seller's personal data is erased"
    client = onboarding_client(services)
    try:
        return onboarding.submit(services.sellers, client, details)
    finally:
        client.close()


def sellers_view(services: Services) -> SellersView:
    """The sellers view, caught up with the log."""
    view = SellersView(services.pool)
    Follower(view, ApplicationEventSource(services.application)).run_until_idle()
    return view


def refresh_awaiting(services: Services) -> dict[str, int]:
    """The KYC job: every seller whose KYC awaits the PSP is submitted again or looked up."""
    client = onboarding_client(services)
    outcomes: Counter[str] = Counter()
    try:
        for account in sellers_view(services).awaiting_kyc(KYC_BATCH):
            seller = services.sellers.get(account)
            said = onboarding.refresh(
                services.sellers, client, seller, lambda s: details_of(services, s)
            )
            outcomes[said.split(":")[0]] += 1
            log.info("KYC refresh", extra={"seller": account, "outcome": said})
    finally:
        client.close()
    return dict(outcomes)
