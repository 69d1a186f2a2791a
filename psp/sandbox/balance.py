"""Our balance at the PSP: `GET /v1/balance`, per currency, available and pending.

available = the sum, over every settlement file, of Net Credit - Net Debit of every line except
the closing MerchantPayout (see movements.py), that is:
      Σ succeeded charges (amount - commission)
    - Σ succeeded refunds
    - Σ disputes (fee + amount), but only the fee for a dispute that is won (a won dispute gives
      the amount back, the fee stays; a reopened one is lost again)
    - Σ payouts paid or returned
    + Σ payouts returned.
pending = what is on its way and not final yet, as Stripe reports it (it may be negative):
      Σ pending charges (amount - commission)
    - Σ pending refunds
    - Σ pending payouts.
When a pending thing becomes final it moves from pending to available (a failed one leaves).
The settlement currency is always listed, with 0 when nothing moved in it.
"""

from __future__ import annotations

from litestar import get
from litestar.handlers import HTTPRouteHandler

from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.models import BalanceAmount, BalanceView
from payments.psp.sandbox.movements import commission_minor, currencies, movements
from payments.psp.sandbox.openapi import answers
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.store import SandboxStore


def available_minor(store: SandboxStore, config: SandboxConfig, currency: str) -> int:
    return sum(movement.net_minor for movement in movements(store, config, currency))


def pending_minor(store: SandboxStore, config: SandboxConfig, currency: str) -> int:
    incoming = sum(
        int(charge["amount"]) - commission_minor(config, charge["amount"])
        for charge in store.fetch_all(
            "SELECT amount FROM charges WHERE status = 'pending' AND currency = ?", (currency,)
        )
    )
    outgoing = store.fetch_one(
        "SELECT (SELECT coalesce(sum(amount), 0) FROM refunds"
        "        WHERE status = 'pending' AND currency = ?)"
        " + (SELECT coalesce(sum(amount), 0) FROM payouts"
        "    WHERE status = 'pending' AND currency = ?) AS total",
        (currency, currency),
    )
    assert outgoing is not None
    return incoming - int(outgoing["total"])


def balance_of(store: SandboxStore, config: SandboxConfig) -> BalanceView:
    listed = sorted({config.settlement_currency, *currencies(store)})
    return BalanceView(
        object="balance",
        available=[
            BalanceAmount(available_minor(store, config, currency), currency) for currency in listed
        ],
        pending=[
            BalanceAmount(pending_minor(store, config, currency), currency) for currency in listed
        ],
    )


def balance_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @get(
        "/v1/balance",
        operation_id="getBalance",
        tags=["balance"],
        summary="Our balance: available and pending, per currency",
        responses=answers({200: (BalanceView, "the balance, in minor units")}),
    )
    async def get_balance() -> BalanceView:
        """Available is what the settlement files add up to; pending is what is not final yet."""
        return balance_of(sandbox.store, sandbox.config)

    return [get_balance]
