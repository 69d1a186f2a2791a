"""Bank details tokenised like cards: `POST /v1/bank_tokens` → `btok_...`.

Either an IBAN (checked with its ISO 13616 mod-97 digits) or a US account number with an ABA
routing number (checked with its 3-7-1 checksum). Only what a token needs is kept: the kind, the
country, the last four digits, the holder's name and a fingerprint, an HMAC-SHA256 of the number
under a secret of this sandbox (a plain hash of a 9-digit number could be reversed by trying
them all). The number is never stored, logged or echoed back.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from litestar import Request, Response
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody

from payments.psp.sandbox.identifiers import iso_utc, new_token, utc_now
from payments.psp.sandbox.models import BankTokenRequest, BankTokenView
from payments.psp.sandbox.openapi import follow
from payments.psp.sandbox.problems import FieldError, ProblemError
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.tokens import created_unless_faulted, fingerprint_of, tokenising_post

BANK_TOKENS = "bank tokens"
_ABA_WEIGHTS = (3, 7, 1) * 3


def iban_valid(iban: str) -> bool:
    """ISO 13616: the country and check digits moved to the end, letters as 10..35, mod 97 == 1."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def routing_number_valid(routing: str) -> bool:
    """ABA checksum: digits weighted 3, 7, 1 repeating sum to a multiple of 10."""
    return sum(int(d) * w for d, w in zip(routing, _ABA_WEIGHTS, strict=True)) % 10 == 0


def _refused(field: str, message: str) -> ProblemError:
    return ProblemError(
        422, "Invalid bank details", "they cannot be tokenised", [FieldError(field, message)]
    )


def bank_account_of(body: BankTokenRequest) -> tuple[str, str, str]:
    """(kind, country, number) of checked bank details; a 422 naming the field otherwise."""
    if body.iban is not None:
        if body.account_number is not None or body.routing_number is not None:
            raise _refused("iban", "give an IBAN or an account and routing number, not both")
        if not iban_valid(body.iban):
            raise _refused("iban", "fails the IBAN check")
        return "iban", body.iban[:2], body.iban
    if body.account_number is None:
        raise _refused("account_number", "give an IBAN, or account_number and routing_number")
    if body.routing_number is None:
        raise _refused("routing_number", "give an IBAN, or account_number and routing_number")
    if not routing_number_valid(body.routing_number):
        raise _refused("routing_number", "fails the ABA checksum")
    return "us_account", "US", f"{body.routing_number}:{body.account_number}"


def tokenise_bank_details(sandbox: Sandbox, body: BankTokenRequest) -> BankTokenView:
    """Check and store bank details as a token; raises a 422 naming the bad field."""
    kind, country, number = bank_account_of(body)
    view = BankTokenView(
        id=new_token("btok"),
        object="bank_token",
        kind=kind,
        country=country,
        last4=number[-4:],
        holder_name=body.holder_name,
        fingerprint=fingerprint_of(sandbox.fingerprint_secret, number),
        created=iso_utc(utc_now()),
    )
    with sandbox.store.transaction() as connection:
        connection.execute(
            "INSERT INTO bank_tokens (id, kind, country, last4, fingerprint, holder_name,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                view.id,
                view.kind,
                view.country,
                view.last4,
                view.fingerprint,
                view.holder_name,
                view.created,
            ),
        )
    return view


def require_bank_token(connection: sqlite3.Connection, token: str, field: str) -> None:
    """A 422 naming `field` unless the sandbox issued this bank token."""
    if connection.execute("SELECT 1 FROM bank_tokens WHERE id = ?", (token,)).fetchone() is None:
        detail = f"no bank details were tokenised as {token!r}"
        raise ProblemError(422, "Unknown bank token", detail, [FieldError(field, detail)])


def bank_token_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @tokenising_post(
        "/v1/bank_tokens",
        operation_id="createBankToken",
        tag=BANK_TOKENS,
        summary="Tokenise bank details (IBAN, or US account and routing number)",
        body=BankTokenRequest,
        token=(BankTokenView, "the token; the number itself is not kept"),
        refused="the details fail their check digits, or both or neither form is given",
        links={
            "account": follow("createAccount", {"bank_token": "$response.body#/id"}),
            "payout": follow("createPayout", {"destination": "$response.body#/id"}),
        },
    )
    async def create_bank_token(
        request: Request[Any, Any, Any], data: JSONBody[BankTokenRequest]
    ) -> Response[Any]:
        """A payout or an account may name the token instead of the bank details."""
        return await created_unless_faulted(
            sandbox, request, "bank_tokens", lambda: tokenise_bank_details(sandbox, data)
        )

    return [create_bank_token]
