"""Verify's table comparison, before and after, on one history (an experiment, issue #19).

Writes a history of ORDERS orders (bench/history.py) into a new database of ADMIN_URL's
server, catches every view up live and into scratch copies, then times each table's
comparison with the previous commit's `_compare` (two EXCEPT ALLs and two counts; its file
given as OLD_VERIFY, e.g. `git show 4286fdc:projections/audit/verify.py > /tmp/old.py`)
and with the current one (one GROUP BY over both sides), two rounds alternated, and prints
the seconds, the rows compared and any table either finds differing.

    python docs/performance/verify_compare_experiment.py ADMIN_URL ORDERS OLD_VERIFY
"""

from __future__ import annotations

import importlib.util
import sys
import time
from typing import Any

import psycopg

from payments.bench.history import make_history
from payments.projections.audit import verify
from payments.projections.catalog import NAMES, VIEW_CLASSES
from payments.projections.rebuild import drop_scratch, empty_scratch_view
from payments.projections.runner import ProjectionRunner, catch_up_together
from payments.projections.source import ApplicationEventSource
from payments.runtime.config import Settings
from payments.runtime.services import build_services

DATABASE = "verify_compare_experiment"


def load_old(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("verify_old", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_old"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module._compare


def main(admin_url: str, orders: int, old_path: str) -> None:
    base = admin_url.rsplit("/", 1)[0]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    url = f"{base}/{DATABASE}"
    services = build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url)
    try:
        make_history(services.application, orders)
        source = ApplicationEventSource(services.application)
        lives = [VIEW_CLASSES[name](services.pool) for name in NAMES]
        scratches = [empty_scratch_view(services.pool, name, unlogged=True) for name in NAMES]
        for views in (lives, scratches):
            catch_up_together([ProjectionRunner(v, source, batch_size=2000) for v in views])
        ways = (("before", load_old(old_path)), ("after", verify._compare))
        for _ in range(2):
            for label, compare in ways:
                seconds, rows, differing = 0.0, 0, []
                with services.pool.connection() as conn:
                    for live, scratch in zip(lives, scratches, strict=True):
                        for table in live.tables:
                            started = time.perf_counter()
                            result = compare(conn, live, scratch, table)
                            seconds += time.perf_counter() - started
                            rows += result.live_rows
                            if result.only_live or result.only_rebuilt:
                                differing.append(table)
                print(f"{label}: {seconds:.2f} s, {rows:,} rows, differing {differing}")
        for name in NAMES:
            drop_scratch(services.pool, name)
    finally:
        services.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
