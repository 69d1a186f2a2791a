"""Sellers with KYC (#17): POST /sellers (onboarding at the PSP), GET /sellers/{account},
GET /sellers (keyset paging), PATCH /sellers/{account}, and an operator's suspend and
reinstate. Payouts go only to verified sellers that are not suspended (domain/seller.py)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import JSONBody, QueryParameter

from payments.api.auth import access
from payments.api.bank_guard import refuse_bank_details
from payments.api.idempotency import OnceDep, fingerprint, require_key, stored_answer
from payments.api.openapi import spec, success
from payments.api.parameters import (
    ID_PATTERN,
    CallerDep,
    SellerAccountPath,
    ServicesDep,
    one_of,
)
from payments.api.problems import ProblemError
from payments.api.seller_schemas import (
    ReasonRequest,
    SellerPage,
    SellerRequest,
    SellerResponse,
    SellerUpdate,
    seller_body,
)
from payments.domain.api_key import Role
from payments.domain.errors import NotFound
from payments.domain.seller import KycStatus, Seller
from payments.domain.seller_commands import RegisterSeller
from payments.runtime import kyc
from payments.runtime.idempotency import StoredResponse
from payments.runtime.keys import Caller
from payments.runtime.services import Services

CREATE_SCOPE = "POST /sellers"
MAX_BODY_BYTES = 8 * 1024
AfterQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=ID_PATTERN,
        max_length=64,
        description="Sellers after this account (the `next_after` of the previous page)",
    ),
]
KycQuery = Annotated[str | None, one_of(KycStatus, "Only sellers of this KYC status.")]
PageSize = Annotated[int, QueryParameter(ge=1, le=100, description="Page size.")]


async def guard_seller_body(request: Request[Any, Any, Any]) -> None:
    """Before Litestar parses the body: no card data, no raw bank details anywhere."""
    if request.method == "POST":
        require_key(request.headers.get("idempotency-key"))
    body = await request.json()  # card data refused as it is decoded (api/edge.py)
    refuse_bank_details(body)


def seller_response(services: Services, seller: Seller, **extra: Any) -> SellerResponse:
    """A seller as every role that may read it sees it (GET /sellers/{account})."""
    return seller_body(seller, services.personal_data.open(seller.personal_data), **extra)


def _register(services: Services, data: SellerRequest, caller: Caller) -> StoredResponse:
    personal = {
        "legal_name": data.legal_name,
        "contact": msgspec.to_builtins(data.contact),
        "id_number": data.id_number,
    }
    placement = services.sellers.register(
        RegisterSeller(data.seller_account, data.country, data.bank_token, personal, caller.key_id)
    )
    said = kyc.submit(services, data.seller_account) if services.psp_url else "no PSP configured"
    seller = services.sellers.get(data.seller_account)
    body = seller_response(services, seller, position=placement.position, onboarding=said)
    return stored_answer(201, body, f"/sellers/{data.seller_account}", placement.position)


def seller_for(services: Services, caller: Caller, account: str) -> Seller:
    """The seller, if the caller may read it; NotFound for another seller's (not revealed)."""
    seller = services.sellers.find(account) if caller.may_read_seller(account) else None
    if seller is None:
        raise NotFound(f"seller {account!r} not found")  # another seller's: not revealed
    return seller


def seller_page(services: Services, after: str, kyc_status: str | None, limit: int) -> SellerPage:
    """Sellers after the account `after`, in account order (GET /sellers)."""
    accounts = kyc.sellers_view(services).accounts(after, limit, kyc_status)
    sellers = [seller_response(services, services.sellers.get(account)) for account in accounts]
    return SellerPage(sellers, accounts[-1] if len(accounts) == limit else None)


class SellersController(Controller):
    path = "/sellers"
    tags = ["sellers"]

    @post(
        "/",
        **spec(
            "createSeller",
            "Register a seller and submit its KYC to the PSP",
            problems=(409, 413, 422),
            answers={201: success(SellerResponse, "Registered; KYC as the PSP answered")},
        ),
        description="Needs Idempotency-Key. The payout destination is a bank token from the "
        "PSP (POST /v1/bank_tokens): an IBAN or account number anywhere in the body is refused "
        "(422), as is card data. Legal name, contact and id number are stored sealed (erasable). "
        "The PSP's first KYC answer is in kyc_status; `onboarding` says what the PSP answered. "
        "409 when the seller account is registered already.",
        status_code=201,
        before_request=guard_seller_body,
        request_max_body_size=MAX_BODY_BYTES,
        **access(Role.MERCHANT),
    )
    def create_seller(
        self, data: JSONBody[SellerRequest], services: ServicesDep, once: OnceDep
    ) -> Response[bytes]:
        return once.run(
            CREATE_SCOPE,
            fingerprint(data, services.personal_data.keyed_hash),  # the body holds personal data
            lambda: _register(services, data, once.caller),
        )

    @get(
        "/",
        **spec("listSellers", "Sellers in account order (keyset paging)", problems=(422,)),
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE),
    )
    def list_sellers(
        self,
        services: ServicesDep,
        after: AfterQuery = None,
        kyc_status: KycQuery = None,
        limit: PageSize = 50,
    ) -> SellerPage:
        return seller_page(services, after or "", kyc_status, limit)

    @get(
        "/{seller_account:str}",
        **spec(
            "getSeller",
            "A seller: KYC, suspension, whether it may be paid out",
            problems=(404, 422),
        ),
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE, Role.SELLER),
    )
    def get_seller(
        self, seller_account: SellerAccountPath, services: ServicesDep, caller: CallerDep
    ) -> SellerResponse:
        return seller_response(services, seller_for(services, caller, seller_account))

    @patch(
        "/{seller_account:str}",
        **spec(
            "updateSeller",
            "Change a seller's payout destination, legal name or contact",
            problems=(404, 409, 413, 422),
        ),
        description="Recorded as an event; a bank token only, never an IBAN (422). 409 when "
        "the seller's personal data is erased and the change needs it.",
        before_request=guard_seller_body,
        request_max_body_size=MAX_BODY_BYTES,
        **access(Role.MERCHANT),
    )
    def update_seller(
        self,
        seller_account: SellerAccountPath,
        data: JSONBody[SellerUpdate],
        services: ServicesDep,
        caller: CallerDep,
    ) -> SellerResponse:
        seller = services.sellers.get(seller_account)
        personal = None
        if data.legal_name is not None or data.contact is not None:
            current = services.personal_data.open(seller.personal_data).buyer_info
            if current is None:
                raise ProblemError(
                    409,
                    "personal-data-erased",
                    "The seller's personal data is erased",
                    "legal name and contact cannot be changed after an erasure",
                )
            personal = dict(current)
            if data.legal_name is not None:
                personal["legal_name"] = data.legal_name
            if data.contact is not None:
                personal["contact"] = msgspec.to_builtins(data.contact)
        position = services.sellers.update(seller_account, data.bank_token, personal, caller.key_id)
        return seller_response(services, services.sellers.get(seller_account), position=position)

    @post(
        "/{seller_account:str}/suspend",
        **spec(
            "suspendSeller",
            "Suspend a seller: no payouts, and by policy no new charges",
            problems=(404, 422),
        ),
        description="Recorded with the calling key's id (GET /audit/actions). Repeating it "
        "changes nothing.",
        status_code=200,
        **access(Role.OPERATOR),
    )
    def suspend_seller(
        self,
        seller_account: SellerAccountPath,
        data: JSONBody[ReasonRequest],
        services: ServicesDep,
        caller: CallerDep,
    ) -> SellerResponse:
        position = services.sellers.suspend(seller_account, data.reason, caller.key_id)
        return seller_response(services, services.sellers.get(seller_account), position=position)

    @post(
        "/{seller_account:str}/reinstate",
        **spec("reinstateSeller", "Lift a seller's suspension", problems=(404, 422)),
        description="Recorded with the calling key's id. Repeating it changes nothing.",
        status_code=200,
        **access(Role.OPERATOR),
    )
    def reinstate_seller(
        self,
        seller_account: SellerAccountPath,
        data: JSONBody[ReasonRequest],
        services: ServicesDep,
        caller: CallerDep,
    ) -> SellerResponse:
        position = services.sellers.reinstate(seller_account, data.reason, caller.key_id)
        return seller_response(services, services.sellers.get(seller_account), position=position)
