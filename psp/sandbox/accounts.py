"""Sellers with KYC: `POST /v1/accounts` (idempotent by key), look-ups, admin verify or reject.

The `id_number` decides the check, as public test values do: `000000000` is verified at once,
`111111111` rejected at once (`rejection_reason` `id_number_mismatch`), anything else stays
pending until `POST /admin/accounts/{id}/verify` or `.../reject` (`verification_failed`), each
of which sends `account.updated`. The id number itself is not kept (only
the outcome is), and a bank token, if given, must exist.
"""

from __future__ import annotations

import sqlite3

from litestar import post
from litestar.handlers import HTTPRouteHandler

from payments.psp.sandbox.bank_tokens import require_bank_token
from payments.psp.sandbox.idempotency import Outcome, store_answer
from payments.psp.sandbox.identifiers import iso_utc, new_id, utc_now
from payments.psp.sandbox.lookups import load_view, require_row
from payments.psp.sandbox.models import AccountList, AccountRequest, AccountView
from payments.psp.sandbox.openapi import BAD_PARAMETERS, ObjectId, answers, follow
from payments.psp.sandbox.problems import ProblemError
from payments.psp.sandbox.resources import Resource, resource_routes
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.views import row_view
from payments.psp.sandbox.webhooks import enqueue_event

SCOPE = "accounts"
ADMIN = "admin"
PENDING, VERIFIED, REJECTED = "pending", "verified", "rejected"
KYC_TEST_OUTCOMES = {"000000000": VERIFIED, "111111111": REJECTED}
# Why KYC failed: the test id number does not match the name; an admin's review failed it.
ID_MISMATCH, REVIEW_FAILED = "id_number_mismatch", "verification_failed"
UNKNOWN_ACCOUNT = {404: "no such account"}


def account_view(account: sqlite3.Row) -> AccountView:
    return row_view(AccountView, account, object="account")


def record_account(sandbox: Sandbox, key: str, hashed: str, body: AccountRequest) -> Outcome:
    """Check and record one account with its idempotent answer, atomically."""
    with sandbox.store.transaction() as connection:
        if body.bank_token is not None:
            require_bank_token(connection, body.bank_token, "bank_token")
        account_id, now = new_id("acct"), iso_utc(utc_now())
        status = KYC_TEST_OUTCOMES.get(body.id_number, PENDING)
        connection.execute(
            "INSERT INTO accounts (id, reference, name, country, status, bank_token, created_at,"
            " updated_at, rejection_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account_id,
                body.reference,
                body.name,
                body.country,
                status,
                body.bank_token,
                now,
                now,
                ID_MISMATCH if status == REJECTED else None,
            ),
        )
        view = load_view(connection, "accounts", account_id, account_view)
        return store_answer(connection, SCOPE, key, hashed, 201, view)


def decide_kyc(sandbox: Sandbox, account_id: str, status: str) -> AccountView:
    """A pending account becomes verified or rejected, with `account.updated`."""
    with sandbox.store.transaction() as connection:
        account = require_row(connection, "account", account_id)
        if account["status"] != PENDING:
            detail = f"the account is {account['status']}; only a pending one is decided"
            raise ProblemError(409, "Account already decided", detail)
        connection.execute(
            "UPDATE accounts SET status = ?, updated_at = ?, rejection_reason = ? WHERE id = ?",
            (status, iso_utc(utc_now()), REVIEW_FAILED if status == REJECTED else None, account_id),
        )
        view = load_view(connection, "accounts", account_id, account_view)
        assert view is not None
        enqueue_event(connection, sandbox.faults, "account.updated", view)
        return view


def account_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    created = resource_routes(
        sandbox,
        Resource(
            thing="account",
            request=AccountRequest,
            view=AccountView,
            listing=AccountList,
            record=record_account,
            view_of=account_view,
            summary="Onboard a seller (KYC by id number)",
            description="`id_number` 000000000 is verified, 111111111 rejected, others wait for"
            " an admin.",
            created={201: (AccountView, "the account: verified, rejected or pending")},
            refused="the bank token is unknown (nothing is recorded)",
            links={
                "verify": follow("verifyAccount", account_id="$response.body#/id"),
                "reject": follow("rejectAccount", account_id="$response.body#/id"),
            },
            references="our seller references",
        ),
    )

    decided = answers(
        {200: (AccountView, "the account, decided; account.updated is sent")},
        BAD_PARAMETERS,
        UNKNOWN_ACCOUNT,
        {409: "the account is not pending"},
    )

    def decision(verb: str, status: str, summary: str) -> HTTPRouteHandler:
        """An admin's KYC decision on a pending account: verify or reject."""

        async def decide(account_id: ObjectId) -> AccountView:
            return decide_kyc(sandbox, account_id, status)

        decide.__name__ = decide.__qualname__ = f"{verb}_account"
        return post(
            f"/admin/accounts/{{account_id:str}}/{verb}",
            status_code=200,
            operation_id=f"{verb}Account",
            tags=[ADMIN],
            summary=summary,
            responses=decided,
        )(decide)

    return [
        *created,
        decision("verify", VERIFIED, "Pass a pending account's KYC"),
        decision("reject", REJECTED, "Fail a pending account's KYC"),
    ]
