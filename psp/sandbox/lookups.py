"""Stored objects looked up by id, the same way for every table the sandbox keeps them in.

A missing one is None to the code that made it (it was just written), and the same 404
problem to a caller who named it: `Charge not found`, `no charge 'ch_...'`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from payments.psp.sandbox.problems import ProblemError

Found = TypeVar("Found")


def row_of(connection: sqlite3.Connection, table: str, object_id: str) -> sqlite3.Row | None:
    """The row of `table` (charges, refunds, ...) with this id, or None."""
    row: sqlite3.Row | None = connection.execute(
        f"SELECT * FROM {table} WHERE id = ?", (object_id,)
    ).fetchone()
    return row


def load_view(
    connection: sqlite3.Connection,
    table: str,
    object_id: str,
    view_of: Callable[[sqlite3.Row], Found],
) -> Found | None:
    """The stored object as the API shows it, or None when there is no such row."""
    row = row_of(connection, table, object_id)
    return None if row is None else view_of(row)


def not_found(thing: str, object_id: str) -> ProblemError:
    """The 404 of a look-up of one `thing` ("charge", "dispute", ...) by its id."""
    return ProblemError(404, f"{thing.capitalize()} not found", f"no {thing} {object_id!r}")


def require_row(connection: sqlite3.Connection, thing: str, object_id: str) -> sqlite3.Row:
    """The row of the `thing` with this id (its table is `<thing>s`); a 404 when there is none."""
    row = row_of(connection, f"{thing}s", object_id)
    if row is None:
        raise not_found(thing, object_id)
    return row
