"""A newcomer's backup: the embedded server's deployment to a file with `payments backup`, and
into a new data directory with `payments restore`, each command starting the server itself."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.processes import run_payments


def test_a_deployment_moves_to_a_new_data_directory_through_a_backup(
    data_dir: Path, tmp_path: Path
) -> None:
    embedded = {"PAYMENTS_DATABASE_URL": "", "PAYMENTS_DATA_DIR": str(data_dir)}
    created = run_payments("keys", "create", "--role", "admin", "--name", "ops", env=embedded)
    assert created.returncode == 0, created.stderr
    key_id = created.stderr.split()[1].rstrip(",")
    archive = tmp_path / "payments.dump"
    done = run_payments("backup", str(archive), env=embedded)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"backup written to {archive}: 1 event(s), up to position 1;")
    moved = {**embedded, "PAYMENTS_DATA_DIR": str(data_dir.with_name("moved"))}
    done = run_payments("restore", str(archive), env=moved)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"restored from {archive}: 1 event(s), up to position 1;")
    listed = run_payments("keys", "list", env=moved)
    assert listed.returncode == 0, listed.stderr
    assert key_id in listed.stdout
    done = run_payments("restore", str(archive), env=moved)  # not twice into one database
    assert done.returncode == 1
    assert "holds rows" in done.stderr.strip().splitlines()[-1]
    older = {**embedded, "PAYMENTS_DATA_DIR": str(data_dir.with_name("pg16"))}
    done = run_payments("restore", str(archive), env={**older, "PGSERVER_POSTGRES_VERSION": "16"})
    assert done.returncode == 1  # an embedded PostgreSQL 16 cannot take a dump of 18
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: {archive} holds a PostgreSQL 18 database and this server runs PostgreSQL 16:"
        " PostgreSQL restores only into a server at least as new (the embedded server,"
        " PAYMENTS_DATABASE_URL unset, runs 16)"
    )
