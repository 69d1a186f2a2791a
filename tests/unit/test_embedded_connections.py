"""How many connections the embedded PostgreSQL allows for a deployment's pools (ADR 0020),
and the write settings it runs with (docs/operations.md, The embedded server)."""

from __future__ import annotations

from payments.runtime.database import (
    EMBEDDED_MAX_CONNECTIONS,
    embedded_max_connections,
    embedded_tuning,
)


def test_enough_for_every_process_pools_and_never_below_200() -> None:
    assert embedded_max_connections(1, 10) == 200  # PostgreSQL's own default is 100
    # parent, projections, 8 API processes, a worker and a CLI command: 30 connections each
    assert embedded_max_connections(8, 10) == 12 * 30 + 20


def test_capped_where_the_server_must_still_start() -> None:
    assert embedded_max_connections(64, 10) == EMBEDDED_MAX_CONNECTIONS == 500
    assert embedded_max_connections(2, 200) == 500


def test_buffers_an_eighth_of_memory_up_to_1_gb_and_never_below_the_default() -> None:
    gib = 1 << 30
    # 128 MB is PostgreSQL's own value: setting it would look unset at every start
    assert "shared_buffers" not in embedded_tuning(1 * gib)
    assert embedded_tuning(1 * gib)["checkpoint_timeout"] == "15min"
    assert embedded_tuning(4 * gib)["shared_buffers"] == "512MB"
    assert embedded_tuning(64 * gib)["shared_buffers"] == "1024MB"
    assert embedded_tuning(4 * gib)["max_wal_size"] == "8GB"
