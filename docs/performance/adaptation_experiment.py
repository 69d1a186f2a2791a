"""How long psycopg takes to adapt a save's parameters, an experiment (issue #19).

Times `PostgresQuery.convert` (what every `execute` does before sending) for the shapes the
event store and the Idempotency-Key answers were and are sent as: the library's array of its
composite type `stored_event_uuid`, four arrays in text, four arrays in binary; the answers
with `Jsonb` and interval arrays in text, and with binary arrays and JSON text. No query is
sent; it needs a server only to look up the composite type.

    python docs/performance/adaptation_experiment.py ADMIN_URL [events]

Measured 2026-12-06 (24 events of 400 bytes, six answers): composite 418 µs, four text
arrays 228 µs, four binary arrays 36 µs; answers 180 µs as they were, 29 µs as they are.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

import msgspec
import psycopg
from psycopg import sql
from psycopg._queries import PostgresQuery
from psycopg.adapt import Transformer
from psycopg.types.composite import CompositeInfo, register_composite
from psycopg.types.json import Jsonb


def timed(
    conn: psycopg.Connection[Any], name: str, query: sql.SQL, params: tuple[Any, ...]
) -> None:
    converter = PostgresQuery(Transformer(conn))
    for _ in range(50):
        converter.convert(query, params)
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        converter.convert(query, params)
    print(f"{name:32s} {(time.perf_counter() - started) / rounds * 1e6:8.1f} µs")


def main() -> None:
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    with psycopg.connect(sys.argv[1], autocommit=True) as conn:
        conn.execute(
            "DROP TYPE IF EXISTS adaptation_probe; CREATE TYPE adaptation_probe AS "
            "(originator_id uuid, originator_version bigint, topic text, state bytea)"
        )
        try:
            info = CompositeInfo.fetch(conn, "adaptation_probe")
            assert info is not None
            register_composite(info, conn)
            events = [
                (uuid.uuid4(), 1, "payments.PaymentOrder.Created.v1", os.urandom(400))
                for _ in range(count)
            ]
            columns = tuple(list(column) for column in zip(*events, strict=True))
            composite = info.python_type
            assert composite is not None
            timed(
                conn,
                "events: composite array",
                sql.SQL("SELECT * FROM unnest(%s::adaptation_probe[])"),
                ([composite(*event) for event in events],),
            )
            four = "SELECT * FROM unnest({0}::uuid[], {0}::bigint[], {0}::text[], {0}::bytea[])"
            timed(conn, "events: four text arrays", sql.SQL(four.format("%s")), columns)
            timed(conn, "events: four binary arrays", sql.SQL(four.format("%b")), columns)
            answers = count // 4
            headers = [{"location": "/checkouts/co_1", "position": "123"}] * answers
            common = (
                ["POST /payments"] * answers,
                [f"key{i}" for i in range(answers)],
                ["f" * 64] * answers,
                [201] * answers,
                [os.urandom(900)] * answers,
            )
            answers_statement = (
                "SELECT * FROM unnest({0}::text[], {0}::text[], {0}::text[], {0}::int[], "
                "{0}::bytea[], {0}::{1}[], {0}::interval[])"
            )
            timed(
                conn,
                "answers: as they were",
                sql.SQL(answers_statement.format("%s", "jsonb")),
                (*common, [Jsonb(h) for h in headers], [timedelta(hours=24)] * answers),
            )
            timed(
                conn,
                "answers: as they are",
                sql.SQL(answers_statement.format("%b", "text")),
                (
                    *common,
                    [msgspec.json.encode(h).decode() for h in headers],
                    [timedelta(hours=24)] * answers,
                ),
            )
        finally:
            conn.execute("DROP TYPE IF EXISTS adaptation_probe")


if __name__ == "__main__":
    main()
