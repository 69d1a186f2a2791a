"""`payments serve` on the embedded PostgreSQL: starts, answers, stops on Ctrl-C, keeps data."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from payments.runtime.database import embedded_tuning
from tests.e2e.processes import Process, authorization, clean_env, create_key, free_port
from tests.integration.helpers import checkout_body, new_key


def test_serve_on_embedded_postgres_survives_restart(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        PAYMENTS_DATA_DIR=str(data_dir),
        PAYMENTS_PORT=str(port),
        PAYMENTS_PSP_SANDBOX_PORT=str(free_port()),
    )
    base = f"http://127.0.0.1:{port}"
    body = checkout_body(2)
    order_id = body["payment_orders"][0]["payment_order_id"]

    first = Process(["serve"], env, tmp_path / "serve1.log")
    try:
        first.wait_http(f"{base}/health")
        auth = authorization(create_key(env, "merchant"))
        created = httpx.post(
            f"{base}/payments", json=body, headers={**new_key(), **auth}, timeout=10
        )
        assert created.status_code == 201, created.text
    finally:
        code = first.interrupt()
    assert code == 0, first.logs()[-2000:]
    assert '"msg": "stopped"' in first.logs()

    second = Process(["serve"], env, tmp_path / "serve2.log")
    try:
        second.wait_http(f"{base}/health")
        position = created.json()["position"]  # the view may still be catching up
        order = httpx.get(
            f"{base}/payments/{order_id}?min_position={position}", headers=auth, timeout=10
        )
        assert order.status_code == 200, order.text
        assert order.json()["checkout_id"] == body["checkout_id"]
    finally:
        assert second.interrupt(sig=signal.SIGTERM) == 0  # as systemd or `kill` would stop it
    assert '"msg": "stopped"' in second.logs()
    assert (data_dir / "pg" / "PG_VERSION").exists()
    assert not (data_dir / "pg" / "postmaster.pid").exists()  # the embedded server stopped too
    # PostgreSQL's default 100 connections is less than a few processes' pools (ADR 0020)
    assert "max_connections = '200'" in (data_dir / "pg" / "postgresql.auto.conf").read_text()
    # checkpoints every 1 GB of WAL wrote whole pages again every 80 s at 1M orders (#19)
    settings = (data_dir / "pg" / "postgresql.auto.conf").read_text()
    assert "max_wal_size = '8GB'" in settings
    assert "checkpoint_timeout = '15min'" in settings
    assert ("shared_buffers = '" in settings) == ("shared_buffers" in embedded_tuning())
