"""Measure projection catch-up (rebuild) speed: events applied per second, per projection.

    python -m payments.bench.projection_catchup --orders 20000 \
        [--database-url URL] [--batch-size 2000]

Without --database-url it uses PAYMENTS_DATABASE_URL, creating a scratch database there.
"""

from __future__ import annotations

import os
import time
import uuid

import click
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from payments.bench.history import make_history
from payments.projections.catalog import NAMES
from payments.projections.rebuild import rebuild
from payments.projections.source import ApplicationEventSource
from payments.runtime.config import Settings
from payments.runtime.services import build_services


@click.command()
@click.option("--orders", default=20_000, show_default=True)
@click.option("--batch-size", default=2000, show_default=True)
@click.option("--database-url", default=None, help="Admin URL (default PAYMENTS_DATABASE_URL).")
def main(orders: int, batch_size: int, database_url: str | None) -> None:
    admin = database_url or os.environ["PAYMENTS_DATABASE_URL"]
    name = f"bench_projections_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin, dbname=name)
    try:
        services = build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url)
        started = time.perf_counter()
        history = make_history(services.application, orders)
        events = services.application.recorder.max_notification_id() or 0
        click.echo(
            f"wrote {history.orders} orders, {events} events in "
            f"{time.perf_counter() - started:.1f}s"
        )
        source = ApplicationEventSource(services.application)
        for projection in NAMES:
            result = rebuild(services.pool, source, projection, batch_size=batch_size)
            click.echo(
                f"{projection:13} {result.events_applied:7} events applied "
                f"({events} scanned) in {result.seconds:.2f}s: "
                f"{events / result.seconds:,.0f} log events/s, "
                f"{result.events_per_second:,.0f} applied events/s"
            )
        services.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                f'DROP DATABASE IF EXISTS "{conninfo_to_dict(url)["dbname"]}" WITH (FORCE)'
            )


if __name__ == "__main__":
    main()
