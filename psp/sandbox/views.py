"""Stored rows rendered as the API's charge and payout objects."""

from __future__ import annotations

import sqlite3

from payments.psp.sandbox.models import CardView, ChargeView, PayoutView


def charge_view(charge: sqlite3.Row, token: sqlite3.Row | None) -> ChargeView:
    card = None
    if token is not None:
        card = CardView(
            brand=token["brand"],
            last4=token["last4"],
            fingerprint=token["fingerprint"],
            exp_month=token["exp_month"],
            exp_year=token["exp_year"],
        )
    return ChargeView(
        id=charge["id"],
        object="charge",
        amount=charge["amount"],
        currency=charge["currency"],
        status=charge["status"],
        reference=charge["reference"],
        description=charge["description"],
        failure_code=charge["failure_code"],
        token=charge["token"],
        card=card,
        created_at=charge["created_at"],
        updated_at=charge["updated_at"],
    )


def load_charge_view(connection: sqlite3.Connection, charge_id: str) -> ChargeView | None:
    charge = connection.execute("SELECT * FROM charges WHERE id = ?", (charge_id,)).fetchone()
    if charge is None:
        return None
    token = connection.execute(
        "SELECT * FROM tokens WHERE token = ?", (charge["token"],)
    ).fetchone()
    return charge_view(charge, token)


def payout_view(payout: sqlite3.Row) -> PayoutView:
    return PayoutView(
        id=payout["id"],
        object="payout",
        amount=payout["amount"],
        currency=payout["currency"],
        status=payout["status"],
        destination=payout["destination"],
        reference=payout["reference"],
        failure_code=payout["failure_code"],
        created_at=payout["created_at"],
        updated_at=payout["updated_at"],
    )


def load_payout_view(connection: sqlite3.Connection, payout_id: str) -> PayoutView | None:
    payout = connection.execute("SELECT * FROM payouts WHERE id = ?", (payout_id,)).fetchone()
    return None if payout is None else payout_view(payout)
