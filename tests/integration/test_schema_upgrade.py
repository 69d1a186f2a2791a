"""A database made by v0.1 opens under this version: renamed columns, moved positions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg

from payments.runtime.config import Settings
from payments.runtime.services import build_services

V01_TABLES = [
    """
    CREATE TABLE execution_queue (
        order_uuid uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('execute', 'requery')),
        due_at timestamptz NOT NULL,
        lease_until timestamptz,
        lease_owner text,
        requeries integer NOT NULL DEFAULT 0,
        enqueued_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE dead_letters (
        order_uuid uuid PRIMARY KEY,
        payment_order_id text NOT NULL,
        attempts integer NOT NULL,
        last_error text NOT NULL,
        dead_lettered_at timestamptz NOT NULL
    )
    """,
    "CREATE TABLE executor_tracking (name text PRIMARY KEY, position bigint NOT NULL)",
]


def test_a_v01_database_keeps_its_queue_dead_letters_and_follower_positions(
    fresh_database_url: str,
) -> None:
    queued, parked = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        for statement in V01_TABLES:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO execution_queue (order_uuid, kind, due_at) VALUES (%s, 'execute', now())",
            (queued,),
        )
        conn.execute("INSERT INTO dead_letters VALUES (%s, 'po_1', 5, 'psp 503', now())", (parked,))
        conn.execute(
            "INSERT INTO executor_tracking VALUES ('execution-feeder', 41), ('wallet-follower', 17)"
        )
    settings = Settings.from_env({"PAYMENTS_DATABASE_URL": fresh_database_url})
    services = build_services(settings, fresh_database_url)
    try:
        assert services.queue.depth() == (1, 1)
        (letter,) = services.queue.dead_letters()
        assert (letter.aggregate_uuid, letter.reference, letter.target) == (
            parked,
            "po_1",
            "charge",
        )
        assert services.wallet_feed.view.position() == 17
        assert services.execution_feed(timedelta(minutes=5)).view.position() == 41
    finally:
        services.close()
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT to_regclass('executor_tracking')").fetchone() == (None,)
    # Opening it again changes nothing (every statement is idempotent).
    services = build_services(settings, fresh_database_url)
    try:
        assert services.wallet_feed.view.position() == 17
    finally:
        services.close()
