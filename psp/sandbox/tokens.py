"""Card tokenisation: validate a card, keep only its fingerprint, brand, last4 and expiry.

Neither the card number nor the CVC is stored or logged. The card's test behaviour (DESIGN §7)
is decided here, from the number, and stored with the token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Link
from litestar.params import JSONBody

from payments.psp.cards import PAN_MAX_DIGITS, PAN_MIN_DIGITS, brand_of, luhn_valid
from payments.psp.sandbox.bodies import StrictBody
from payments.psp.sandbox.faults import apply_request_faults
from payments.psp.sandbox.identifiers import iso_utc, new_token, utc_now
from payments.psp.sandbox.models import TokenRequest, TokenView
from payments.psp.sandbox.openapi import BAD_BODY, REQUEST_FAULTS, answers, follow, with_links
from payments.psp.sandbox.problems import FieldError, ProblemError
from payments.psp.sandbox.runtime import Sandbox

SUCCEED = "succeed"
PROCESSING_ERROR = "processing_error"
PENDING = "pending"
DISPUTED_LATER = "disputed_later"  # succeeds, then a dispute opens after dispute_delay_s
REFUNDS_FAIL = "refunds_fail"  # succeeds, but every refund of it fails
SUCCEEDING = frozenset({SUCCEED, DISPUTED_LATER, REFUNDS_FAIL})
DECLINE_CODES = frozenset({"card_declined", "insufficient_funds"})
TEST_CARD_BEHAVIOURS: dict[str, str] = {
    "4242424242424242": SUCCEED,
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000119": PROCESSING_ERROR,
    "4000000000003220": PENDING,
    "4000000000000259": DISPUTED_LATER,
    "4000000000005126": REFUNDS_FAIL,
}


@dataclass(frozen=True)
class CardInput:
    number: str
    exp_month: int
    exp_year: int
    cvc: str


def card_field_errors(card: CardInput, now: datetime) -> list[FieldError]:
    """Every reason to refuse this card, by field; empty when it can be tokenised."""
    errors: list[FieldError] = []
    number = card.number
    if not number.isascii() or not number.isdigit():
        errors.append(FieldError("number", "must contain digits only"))
    elif not PAN_MIN_DIGITS <= len(number) <= PAN_MAX_DIGITS:
        errors.append(
            FieldError("number", f"must have {PAN_MIN_DIGITS} to {PAN_MAX_DIGITS} digits")
        )
    elif not luhn_valid(number):
        errors.append(FieldError("number", "fails the Luhn check"))
    if not 1 <= card.exp_month <= 12:
        errors.append(FieldError("exp_month", "must be 1 to 12"))
    if not 2000 <= card.exp_year <= 2199:
        errors.append(FieldError("exp_year", "must be a four-digit year"))
    elif 1 <= card.exp_month <= 12 and (card.exp_year, card.exp_month) < (now.year, now.month):
        errors.append(FieldError("exp_year", "the card has expired"))
    if not (card.cvc.isascii() and card.cvc.isdigit() and 3 <= len(card.cvc) <= 4):
        errors.append(FieldError("cvc", "must be 3 or 4 digits"))
    return errors


def fingerprint_of(secret: str, number: str) -> str:
    """HMAC-SHA256 of the number under a server secret: same card, same fingerprint."""
    return hmac.new(secret.encode(), number.encode(), hashlib.sha256).hexdigest()


def tokenise_card(sandbox: Sandbox, card: CardInput) -> TokenView:
    """Validate and store a card as a token; raises a 422 ProblemError naming bad fields."""
    errors = card_field_errors(card, utc_now())
    if errors:
        raise ProblemError(422, "Invalid card", "the card cannot be tokenised", errors)
    view = TokenView(
        token=new_token(),
        fingerprint=fingerprint_of(sandbox.fingerprint_secret, card.number),
        brand=brand_of(card.number),
        last4=card.number[-4:],
        exp_month=card.exp_month,
        exp_year=card.exp_year,
    )
    behaviour = TEST_CARD_BEHAVIOURS.get(card.number, SUCCEED)
    with sandbox.store.transaction() as connection:
        connection.execute(
            "INSERT INTO tokens (token, fingerprint, brand, last4, exp_month, exp_year,"
            " behaviour, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                view.token,
                view.fingerprint,
                view.brand,
                view.last4,
                view.exp_month,
                view.exp_year,
                behaviour,
                iso_utc(utc_now()),
            ),
        )
    return view


async def created_unless_faulted(
    sandbox: Sandbox, request: Request[Any, Any, Any], scope: str, create: Callable[[], object]
) -> Response[Any]:
    """The answer of a fault aimed at `scope`, if one acts; else 201 with what `create` makes."""
    injected = await apply_request_faults(
        sandbox.faults, request, scope, sandbox.config.timeout_fault_s
    )
    return injected if injected is not None else Response(create(), status_code=201)


def tokenising_post(
    path: str,
    *,
    operation_id: str,
    tag: str,
    summary: str,
    body: type[Any],
    token: tuple[type[Any], str],
    refused: str,
    links: Mapping[str, Link],
) -> post:
    """The route of a call that tokenises a card or bank details: a strict `body`, the request
    faults, 201 with the token (linked to the calls that take it), 422 when the details fail."""
    return post(
        path,
        status_code=201,
        operation_id=operation_id,
        operation_class=with_links({201: links}),
        tags=[tag],
        summary=summary,
        dto=StrictBody.of(body),
        responses=answers({201: token}, BAD_BODY, REQUEST_FAULTS, {422: refused}),
    )


def token_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @tokenising_post(
        "/v1/tokens",
        operation_id="createToken",
        tag="tokens",
        summary="Tokenise a card",
        body=TokenRequest,
        token=(TokenView, "the token; the number and CVC are not kept"),
        refused="the card is invalid (Luhn, length, expiry, CVC; errors name the fields)",
        links={"charge": follow("createCharge", {"token": "$response.body#/token"})},
    )
    async def create_token(
        request: Request[Any, Any, Any], data: JSONBody[TokenRequest]
    ) -> Response[Any]:
        """The test card numbers of the module docstring decide what charges with the token do."""
        card = CardInput(data.number, data.exp_month, data.exp_year, data.cvc)
        return await created_unless_faulted(
            sandbox, request, "tokens", lambda: tokenise_card(sandbox, card)
        )

    return [create_token]
