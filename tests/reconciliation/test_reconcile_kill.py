"""`payments reconcile FILE` killed in the middle: between two saves of its run, and between
a fix it recorded on an order and the run's note of it. The next run of the same file
finishes the work: nothing lost, nothing recorded, booked or charged twice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from payments.domain.payment_order import Status
from payments.domain.reconciliation_run import ReconciliationRun
from payments.projections.event_store import EVENTS_TABLE
from payments.psp.reconcile.engine import file_sha256
from payments.runtime.services import Services
from tests.conftest import services_on_new_database
from tests.e2e.processes import Process, free_port, run_payments
from tests.executor.conftest import WEBHOOK_SECRET, start_sandbox
from tests.reconciliation import records
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

OURS = 40  # orders of ours the file settles: their lines are booked
STRANGERS = 4_500  # lines of charges we never made: findings, a thousand to an event
HOLD = 7_328_001  # the advisory lock a held save waits for
FINDINGS = ReconciliationRun.FindingsRecorded.TOPIC
CONFIRMED = ReconciliationRun.AutoFixConfirmed.TOPIC
# A save of findings when findings are stored already (the second such save), or any save
# of a fix's confirmation.
SECOND_FINDINGS = f"""
    EXISTS (SELECT 1 FROM new_rows WHERE topic = '{FINDINGS}')
    AND (SELECT count(*) FROM {EVENTS_TABLE} WHERE topic = '{FINDINGS}')
        > (SELECT count(*) FROM new_rows WHERE topic = '{FINDINGS}')"""
A_CONFIRMATION = f"EXISTS (SELECT 1 FROM new_rows WHERE topic = '{CONFIRMED}')"
WAITER = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted"


@contextmanager
def killed_when_held(
    services: Services, condition: str, args: list[str], env: dict[str, str], log: Path
) -> Iterator[None]:
    """`payments ARGS` with a trigger on the events table: a save whose new events meet
    `condition` waits (in its transaction, the table's lock held) for a lock this test
    holds. The block runs while it waits; the process is then killed and its save rolled
    back, as a crash leaves it."""
    trigger = f"""
        CREATE FUNCTION hold_save() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {condition} THEN
                PERFORM pg_advisory_xact_lock({HOLD});
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER hold_save AFTER INSERT ON {EVENTS_TABLE}
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hold_save();
    """
    with psycopg.connect(services.database_url, autocommit=True) as test:
        test.execute(trigger)
        test.execute("SELECT pg_advisory_lock(%s)", (HOLD,))
        process = Process(args, env, log)

        def held() -> bool:
            assert process.popen.poll() is None, process.logs()[-3000:]
            return test.execute(WAITER, (HOLD,)).fetchone() is not None

        try:
            wait_until(held, timeout=60)
            yield
        finally:
            if process.popen.poll() is None:
                process.kill()
        row = test.execute(WAITER, (HOLD,)).fetchone()
        if row is not None:  # its backend waits on: ended as if it had seen the client go
            test.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        test.execute(f"DROP TRIGGER hold_save ON {EVENTS_TABLE}")
        test.execute("DROP FUNCTION hold_save()")
        test.execute("SELECT pg_advisory_unlock(%s)", (HOLD,))


def run_topics(services: Services, run: ReconciliationRun) -> dict[str, int]:
    with services.pool.connection() as conn:
        rows = conn.execute(
            f"SELECT topic, count(*) FROM {EVENTS_TABLE} WHERE originator_id = %s GROUP BY topic",
            (run.id,),
        ).fetchall()
    return dict(rows)


def cli_env(services: Services, directory: Path, **more: str) -> dict[str, str]:
    return {
        "PAYMENTS_DATABASE_URL": services.database_url,
        "PAYMENTS_DATA_DIR": str(directory / "data"),
        **more,
    }


def day_file(directory: Path, moment: datetime) -> Path:
    batch = int(moment.strftime("%Y%m%d"))
    lines = [records.captured(f"po_k{i}", 1000 + i, moment, batch, fee=30) for i in range(OURS)]
    lines += [records.captured(f"po_x{i}", 500, moment, batch, fee=10) for i in range(STRANGERS)]
    return records.written(
        directory / "day.csv", records.closed_by_payout(lines, moment, batch, "payout-k")
    )


def test_a_reconcile_killed_between_the_saves_of_its_run_is_finished_by_the_next(
    admin_database_url: str, tmp_path: Path
) -> None:
    moment = datetime.now(UTC).replace(microsecond=0)
    as_of = moment.isoformat()
    results: list[tuple[Any, ...]] = []
    for killed in (False, True):
        with services_on_new_database(admin_database_url) as services:
            for i in range(OURS):
                records.order(services.application, f"po_k{i}", 1000 + i, "SUCCESS", f"ch_po_k{i}")
            directory = tmp_path / f"killed-{killed}"
            directory.mkdir()
            path = day_file(directory, moment)
            env = cli_env(services, directory)
            command = ["reconcile", str(path), "--as-of", as_of]
            if killed:
                with killed_when_held(
                    services, SECOND_FINDINGS, command, env, directory / "killed.log"
                ):
                    half = services.reconciliations.find_run(file_sha256(path))
                    assert half is not None
                    assert not half.completed
                    assert 0 < len(half.findings) < STRANGERS  # its first save of findings
            done = run_payments(*command, "--json", env=env)
            assert done.returncode == 0, done.stderr
            assert f'"created": {str(not killed).lower()}' in done.stdout
            run = services.reconciliations.find_run(file_sha256(path))
            assert run is not None
            assert run.completed
            results.append(
                (
                    records.classes_by_line(run),
                    records.open_exceptions(run),
                    records.ledger_balances(services),
                    run_topics(services, run),
                )
            )
    clean, resumed = results
    assert resumed == clean
    classes = list(clean[0].values())
    assert (classes.count("matched"), classes.count("missing_internally")) == (OURS, STRANGERS)


def test_a_reconcile_killed_between_a_fix_and_its_note_confirms_it_once(
    admin_database_url: str, tmp_path: Path
) -> None:
    """The PSP charged an order whose answer never reached us: the file's line, confirmed
    with the PSP, makes the order SUCCESS; the process dies before the run notes the fix."""
    sandbox = start_sandbox(
        tmp_path / "psp.sqlite3", f"http://127.0.0.1:{free_port()}/webhooks/psp"
    )
    try:
        with services_on_new_database(admin_database_url) as services:
            records.order(services.application, "po_fix", 1234, "EXECUTING")
            charge = sandbox.charge_directly("po_fix", sandbox.token("success"), 1234)
            today = datetime.now(UTC).date()
            settlement = httpx.get(f"{sandbox.url}/v1/settlements/{today}.csv")
            assert settlement.status_code == 200, settlement.text
            path = tmp_path / "today.csv"
            path.write_bytes(settlement.content)
            env = cli_env(
                services,
                tmp_path,
                PAYMENTS_PSP_URL=sandbox.url,
                PAYMENTS_WEBHOOK_SECRET=WEBHOOK_SECRET,
            )
            command = ["reconcile", str(path)]
            with killed_when_held(services, A_CONFIRMATION, command, env, tmp_path / "k.log"):
                assert services.application.get_order("po_fix").status is Status.SUCCESS
                half = services.reconciliations.find_run(file_sha256(path))
                assert half is not None
                assert [f.payment_order_id for f in half.pending_auto_fixes()] == ["po_fix"]
            done = run_payments(*command, "--json", env=env)
            assert done.returncode == 0, done.stderr
            assert '"created": false' in done.stdout
            run = services.reconciliations.find_run(file_sha256(path))
            assert run is not None
            assert run.pending_auto_fixes() == []
            assert records.open_exceptions(run) == []
            assert [
                (fix.payment_order_id, fix.psp_reference) for fix in run.auto_fixes.values()
            ] == [("po_fix", charge)]
            assert run_topics(services, run)[CONFIRMED] == 1
            fixed = services.application.get_order("po_fix")
            assert (fixed.status, fixed.psp_reference) == (Status.SUCCESS, charge)
            names = [type(e).__name__ for e in services.application.events.get(fixed.id)]
            assert names.count("Succeeded") == 1
            assert sandbox.charges("po_fix") == 1
            assert sum(records.ledger_balances(services).values()) == 0
    finally:
        sandbox.process.kill()
        sandbox.process.wait(10)
