"""A command that cannot reach its database says why on one line, not in a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import make_conninfo


def test_a_database_that_does_not_exist_is_named_on_one_line(
    admin_database_url: str, tmp_path: Path
) -> None:
    missing = make_conninfo(admin_database_url, dbname="payments_no_such_database")
    env = {**os.environ, "PAYMENTS_DATABASE_URL": missing, "PAYMENTS_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "payments.cli.main", "keys", "list"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: cannot reach PostgreSQL at ")
    assert 'database "payments_no_such_database" does not exist' in last
