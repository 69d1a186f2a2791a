"""Stored rows rendered as the API's objects (row_view), the charge and payout ones here."""

from __future__ import annotations

import sqlite3
from typing import Any, TypeVar

import msgspec

from payments.psp.sandbox.lookups import row_of
from payments.psp.sandbox.models import CardView, ChargeView, PayoutView

View = TypeVar("View", bound=msgspec.Struct)
# The fields whose columns the tables name otherwise (a foreign key, a creation time).
COLUMNS = {"charge": "charge_id", "created": "created_at"}


def row_view(view: type[View], row: sqlite3.Row, **given: Any) -> View:
    """`view` of a stored row: each field not `given` is the row's column of its name (or the
    column COLUMNS names for it)."""
    names = (name for name in view.__struct_fields__ if name not in given)
    return view(**{name: row[COLUMNS.get(name, name)] for name in names}, **given)


def charge_view(charge: sqlite3.Row, token: sqlite3.Row | None) -> ChargeView:
    card = None if token is None else row_view(CardView, token)
    return row_view(ChargeView, charge, object="charge", card=card)


def load_charge_view(connection: sqlite3.Connection, charge_id: str) -> ChargeView | None:
    charge = row_of(connection, "charges", charge_id)
    if charge is None:
        return None
    token = connection.execute(
        "SELECT * FROM tokens WHERE token = ?", (charge["token"],)
    ).fetchone()
    return charge_view(charge, token)


def payout_view(payout: sqlite3.Row) -> PayoutView:
    return row_view(PayoutView, payout, object="payout")
