"""How many connections the embedded PostgreSQL allows for a deployment's pools (ADR 0020),
and the write settings it runs with (docs/operations.md, The embedded server)."""

from __future__ import annotations

import os
from pathlib import Path

from payments.runtime.database import (
    EMBEDDED_MAX_CONNECTIONS,
    LOCK_HINT,
    PGSERVER_RUNTIME,
    embedded_max_connections,
    embedded_tuning,
    own_runtime_folder,
    start_failed,
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


def test_pgserver_s_lock_moves_into_a_runtime_directory_of_the_user_s_own(tmp_path: Path) -> None:
    runtime = tmp_path / "run-user"
    runtime.mkdir()
    user = os.geteuid() or 4242  # as root, a runtime directory of another, unprivileged user
    if os.geteuid() == 0:
        os.chown(runtime, user, -1)
    folder = runtime / PGSERVER_RUNTIME
    assert not own_runtime_folder(0, folder)  # root keeps /tmp (its postgres runs as pgserver)
    assert not own_runtime_folder(user + 1, folder)  # not that user's directory
    assert not folder.exists()
    assert own_runtime_folder(user, folder)
    assert (folder.is_dir(), folder.stat().st_mode & 0o777) == (True, 0o700)
    assert not own_runtime_folder(user, folder)  # there already
    assert not own_runtime_folder(user, tmp_path / "missing" / PGSERVER_RUNTIME)


def test_a_lock_file_of_another_user_is_named_with_what_to_do(tmp_path: Path) -> None:
    denied = start_failed(tmp_path, PermissionError(13, "Permission denied", b"/tmp/.lockfile"))
    assert str(denied).startswith(f"could not start the embedded PostgreSQL in {tmp_path}: ")
    assert "/tmp/.lockfile" in str(denied)
    assert str(denied).endswith(LOCK_HINT)
    other = start_failed(tmp_path, PermissionError(13, "Permission denied", str(tmp_path)))
    assert LOCK_HINT not in str(other)
