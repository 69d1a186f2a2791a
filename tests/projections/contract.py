"""Build each view twice, in memory and in a PostgreSQL scratch schema, for the contract suite."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from psycopg_pool import ConnectionPool

from payments.projections.core import ProjectionView
from payments.projections.pg import PostgresView
from tests.projections.events import Log, only

IMPLEMENTATIONS = ["memory", "postgres"]


@contextmanager
def view_in_scratch_schema(pool: ConnectionPool, cls: type[PostgresView]) -> Iterator[Any]:
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    with pool.connection() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        for statement in cls.ddl(schema):
            conn.execute(statement.encode())
    try:
        yield cls(pool, schema=schema)
    finally:
        with pool.connection() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def make_view(
    kind: str, pool: ConnectionPool, memory: Callable[[], Any], postgres: type[PostgresView]
) -> Iterator[Any]:
    if kind == "memory":
        yield memory()
    else:
        with view_in_scratch_schema(pool, postgres) as view:
            yield view


def feed(view: ProjectionView, log: Log) -> None:
    """Apply every new event of the log to the view, in one batch."""
    after = view.position()
    view.apply_batch(list(only(log.after(after), view.topics)), after=after, through=log.head)
