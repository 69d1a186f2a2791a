"""A command that cannot reach its database or write its data directory says why on one line,
not in a traceback."""

from __future__ import annotations

from pathlib import Path

from psycopg.conninfo import make_conninfo

from tests.e2e.processes import run_payments


def refused(**env: str) -> str:
    """`payments keys list` with `env`: exit 1 and the stderr's last line, with no traceback."""
    done = run_payments("keys", "list", env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


def test_a_database_that_does_not_exist_is_named_on_one_line(
    admin_database_url: str, tmp_path: Path
) -> None:
    missing = make_conninfo(admin_database_url, dbname="payments_no_such_database")
    last = refused(PAYMENTS_DATABASE_URL=missing, PAYMENTS_DATA_DIR=str(tmp_path))
    assert last.startswith("Error: cannot reach PostgreSQL at ")
    assert 'database "payments_no_such_database" does not exist' in last


def test_a_data_directory_that_cannot_be_made_is_named_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    data_dir = tmp_path / "a-file" / "data"  # not even root makes a folder in a file
    env = {"PAYMENTS_DATA_DIR": str(data_dir)}
    assert refused(**env) == (
        f"Error: cannot write the data directory {data_dir} (PAYMENTS_DATA_DIR):"
        f" Not a directory: {data_dir / 'secrets'}"
    )


def test_a_data_directory_the_embedded_server_cannot_use_is_refused_before_it_starts(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "My Payments"  # pgserver's pg_ctl would split the path at the space
    last = refused(PAYMENTS_DATA_DIR=str(data_dir), PAYMENTS_DATABASE_URL="")  # embedded
    assert last.startswith(f"Error: the embedded PostgreSQL cannot run in {data_dir}/pg: ")
    assert last.endswith("(set PAYMENTS_DATA_DIR to such a path)")
    assert not (data_dir / "pg").exists()


def test_backup_and_restore_name_a_database_out_of_reach_on_one_line(
    database_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "payments.dump"
    here = {"PAYMENTS_DATABASE_URL": database_url, "PAYMENTS_DATA_DIR": str(tmp_path)}
    made = run_payments("backup", str(archive), env=here)
    assert made.returncode == 0, made.stderr
    missing = make_conninfo(database_url, dbname="payments_no_such_database")
    env = {"PAYMENTS_DATABASE_URL": missing, "PAYMENTS_DATA_DIR": str(tmp_path)}
    for command, file in (("backup", tmp_path / "other.dump"), ("restore", archive)):
        done = run_payments(command, str(file), env=env)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: cannot reach PostgreSQL at "), last
        assert 'database "payments_no_such_database" does not exist' in last
