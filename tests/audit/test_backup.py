"""`payments backup` and `payments restore` on real PostgreSQL: the restored database is the
backed-up one table by table, a backup taken while writing holds exactly the events it
counts, and a restore refused or broken off writes nothing."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from psycopg.conninfo import make_conninfo

from payments.bench.history import make_history
from payments.cli.main import main
from payments.projections.audit.seal import EventLogSeal
from payments.projections.audit.verify import verify_projection
from payments.projections.catalog import NAMES
from payments.projections.rebuild import SCRATCH_PREFIX
from payments.projections.source import ApplicationEventSource
from payments.runtime.backup import CHECK_PREFIX, BackupFailed, backup, nightly, restore
from payments.runtime.database import DatabaseUnavailable
from payments.runtime.scheduling import job_dependencies
from payments.runtime.services import Services
from payments.scheduler.jobs import job_by_id
from payments.scheduler.runner import run_job
from tests.audit.conftest import place, tell_story
from tests.conftest import new_database, services_on
from tests.projections.conftest import catch_up_all

AUDIT_KEY = "audit-key-of-the-backed-up-deployment"


def tables(url: str) -> dict[str, tuple[int, str]]:
    """Every table of the database: its row count and a digest of its rows in order."""
    with psycopg.connect(url) as conn:
        names = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        contents: dict[str, tuple[int, str]] = {}
        for (name,) in names:
            query = sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                " FROM {} t"
            ).format(sql.Identifier(name))
            row = conn.execute(query).fetchone()
            assert row is not None
            contents[name] = (int(row[0]), str(row[1]))
    return contents


def positions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT notification_id FROM payments_events ORDER BY 1").fetchall()
    return [int(position) for (position,) in rows]


def sealed_history(services: Services, orders: int, seed: int) -> None:
    make_history(services.application, orders, seed=seed)
    assert EventLogSeal(services.pool, AUDIT_KEY).seal() is not None


def cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


def test_a_restored_database_is_the_backed_up_one_table_by_table(
    services: Services, admin_database_url: str, tmp_path: Path
) -> None:
    make_history(services.application, 60, seed=3)
    story = tell_story(services)
    catch_up_all(services)
    assert EventLogSeal(services.pool, AUDIT_KEY).seal() is not None
    with services.pool.connection() as conn:  # a view's rebuild under way: not in the file
        conn.execute(f'CREATE SCHEMA "{SCRATCH_PREFIX}order_status"')
        conn.execute(f'CREATE TABLE "{SCRATCH_PREFIX}order_status".half_done AS SELECT 1 AS n')
    archive = tmp_path / "payments.dump"
    written = backup(services.database_url, archive)
    assert archive.stat().st_mode & 0o777 == 0o600  # it holds the personal-data keys
    before = tables(services.database_url)
    assert before["payments_events"][0] == written.events > 100
    assert before["privacy_keys"][0] > 0
    assert before["order_status"][0] > 0
    with new_database(admin_database_url) as url:
        restored = restore(url, archive)
        assert (restored.events, restored.last_position) == (written.events, written.last_position)
        assert tables(url) == before
        with psycopg.connect(url) as conn:
            schemas = conn.execute("SELECT nspname FROM pg_namespace").fetchall()
        assert f"{SCRATCH_PREFIX}order_status" not in {name for (name,) in schemas}
        with services_on(url) as again:
            assert EventLogSeal(again.pool, AUDIT_KEY).check().ok
            source = ApplicationEventSource(again.application)
            assert all(verify_projection(again.pool, source, n).identical for n in NAMES)
            checkout = again.application.get_checkout(story.order_a.rsplit("_", 1)[0])
            reading = again.personal_data.open(checkout.buyer_info)  # its key came along
            assert (reading.state, reading.buyer_info) == ("readable", {"email": "ada@example.com"})
            place(again, "seller_after_restore", 100)  # and it goes on from where it was
        assert positions(url)[-1] > written.last_position


def test_a_backup_taken_while_writing_holds_exactly_the_events_it_counts(
    services: Services, admin_database_url: str, tmp_path: Path
) -> None:
    make_history(services.application, 20, seed=5)
    stop = threading.Event()
    placed: list[str] = []

    def keep_placing() -> None:
        while not stop.is_set():
            placed.extend(place(services, "seller_busy", 1000, 200))

    writer = threading.Thread(target=keep_placing)
    writer.start()
    try:
        written = backup(services.database_url, tmp_path / "busy.dump")
    finally:
        stop.set()
        writer.join()
    assert placed  # the writer ran
    everything = positions(services.database_url)
    assert everything[-1] > written.last_position  # writes went on after the snapshot
    with new_database(admin_database_url) as url:
        restore(url, tmp_path / "busy.dump")
        kept = positions(url)
    assert kept == [p for p in everything if p <= written.last_position]
    assert len(kept) == written.events


def test_a_restore_refused_or_broken_off_writes_nothing(
    services: Services, admin_database_url: str, tmp_path: Path
) -> None:
    make_history(services.application, 20, seed=9)
    archive = tmp_path / "payments.dump"
    backup(services.database_url, archive)
    with pytest.raises(BackupFailed, match="exists: name a new file"):
        backup(services.database_url, archive)
    with pytest.raises(DatabaseUnavailable, match='database "gone" does not exist'):
        backup(make_conninfo(services.database_url, dbname="gone"), tmp_path / "gone.dump")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["payments.dump"]  # no partial
    before = tables(services.database_url)
    with pytest.raises(BackupFailed, match=r"other session\(s\) use database"):
        restore(services.database_url, archive)  # a deployment's pool is connected
    with new_database(admin_database_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE notes (line text)")
            conn.execute("INSERT INTO notes VALUES ('kept')")
        with pytest.raises(BackupFailed, match=r"holds rows \(table public.notes\)"):
            restore(url, archive)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE notes")
        broken = tmp_path / "broken.dump"
        broken.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
        with pytest.raises(BackupFailed, match="pg_restore failed"):
            restore(url, broken)  # as if it died two thirds of the way in
        assert tables(url) == {}  # one transaction: nothing of it stayed
        garbage = tmp_path / "notes.txt"
        garbage.write_text("not a backup\n")
        with pytest.raises(BackupFailed, match="is not a backup `payments backup` wrote"):
            restore(url, garbage)
        restore(url, archive)  # and the empty database takes the whole backup after all
    assert tables(services.database_url) == before


def test_the_commands_say_what_they_did_and_warn_of_another_audit_key(
    services: Services, admin_database_url: str, tmp_path: Path
) -> None:
    sealed_history(services, 10, seed=1)
    archive = tmp_path / "nightly.dump"
    env = {"PAYMENTS_DATA_DIR": str(tmp_path / "data"), "PAYMENTS_AUDIT_KEY": AUDIT_KEY}
    done = cli({**env, "PAYMENTS_DATABASE_URL": services.database_url}, "backup", str(archive))
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"backup written to {archive}: ")
    again = cli({**env, "PAYMENTS_DATABASE_URL": services.database_url}, "backup", str(archive))
    assert again.exit_code == 1
    assert again.output.strip().endswith("exists: name a new file (a backup never overwrites one)")
    with new_database(admin_database_url) as same_key, new_database(admin_database_url) as other:
        done = cli({**env, "PAYMENTS_DATABASE_URL": same_key}, "restore", str(archive))
        assert done.exit_code == 0, done.output
        assert done.output.startswith(f"restored from {archive}: ")
        assert "warning" not in done.output
        other_key = {**env, "PAYMENTS_AUDIT_KEY": "another-key", "PAYMENTS_DATABASE_URL": other}
        warned = cli(other_key, "restore", str(archive))
        assert warned.exit_code == 0, warned.output
        assert "warning: the restored seals were signed with another audit key" in warned.output
        refused = cli(other_key, "restore", str(archive))
        assert refused.exit_code == 1
        assert refused.output.startswith("Error: database ")
    with new_database(admin_database_url) as unused, new_database(admin_database_url) as into:
        empty = tmp_path / "empty.dump"  # a database no deployment ever used: no seal table
        done = cli({**env, "PAYMENTS_DATABASE_URL": unused}, "backup", str(empty))
        assert done.exit_code == 0, done.output
        done = cli({**env, "PAYMENTS_DATABASE_URL": into}, "restore", str(empty))
        assert done.exit_code == 0, done.output
        assert done.output.startswith(f"restored from {empty}: 0 event(s), up to position 0;")


def test_the_nightly_job_writes_the_day_s_backup_then_keeps_only_the_newest(
    fresh_database_url: str, admin_database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    for day in ("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"):
        (folder / f"payments-{day}.dump").write_text(day)
    (folder / ".payments-2026-11-30.dump.partial").write_text("killed half-way")
    (folder / "notes.txt").write_text("not ours")
    settings = {"PAYMENTS_BACKUP_DIR": str(folder), "PAYMENTS_BACKUPS_KEPT": "3"}
    with services_on(fresh_database_url, **settings) as services:
        make_history(services.application, 10, seed=2)
        job = job_by_id(job_dependencies(services), "database-backup")
        night = datetime(2026, 12, 7, 2, 45, tzinfo=UTC)
        with pytest.raises(DatabaseUnavailable):  # a backup that fails removes nothing
            nightly(make_conninfo(services.database_url, dbname="gone"), folder, night.date(), 3)
        assert len(list(folder.iterdir())) == 7
        run = run_job(services.pool, job, now=night)
        assert run is not None
        assert run.outcome == "ok", run.detail
        assert run.detail.startswith(f"wrote {folder / 'payments-2026-12-07.dump'}: ")
        assert run.detail.endswith("; 4 older file(s) removed")  # 3 backups, 1 partial
        assert sorted(path.name for path in folder.iterdir()) == [
            "notes.txt",
            "payments-2026-11-04.dump",
            "payments-2026-11-05.dump",
            "payments-2026-12-07.dump",
        ]
        assert run_job(services.pool, job, now=night) is None  # the day's tick ran already
        again = run_job(services.pool, job, now=night, tick="by-hand")
        assert again is not None
        assert (
            again.detail == "payments-2026-12-07.dump was written already; 0 older file(s) removed"
        )
        with new_database(admin_database_url) as url:
            assert restore(url, folder / "payments-2026-12-07.dump").events > 0
    with services_on(fresh_database_url) as services:  # PAYMENTS_BACKUP_DIR unset
        job = job_by_id(job_dependencies(services), "database-backup")
        skipped = run_job(services.pool, job, now=night + timedelta(days=1))
        assert skipped is not None
        assert (skipped.outcome, skipped.detail) == (
            "skipped",
            "PAYMENTS_BACKUP_DIR is not set: no nightly backup (docs/operations.md)",
        )


def databases(admin_url: str) -> set[str]:
    with psycopg.connect(admin_url) as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database").fetchall()}


def test_a_restore_check_restores_beside_the_deployment_checks_the_seals_and_drops_it(
    services: Services, admin_database_url: str, tmp_path: Path
) -> None:
    sealed_history(services, 20, seed=4)
    archive = tmp_path / "weekly.dump"
    backup(services.database_url, archive)
    place(services, "seller_after_backup", 500)  # the deployment goes on: the check ignores it
    before = tables(services.database_url)
    env = {
        "PAYMENTS_DATA_DIR": str(tmp_path / "data"),
        "PAYMENTS_DATABASE_URL": services.database_url,  # in use and full: not touched
        "PAYMENTS_AUDIT_KEY": AUDIT_KEY,
    }
    done = cli(env, "restore", "--check", str(archive))
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"{archive} restores: ")
    assert " seal(s) check; the scratch database is dropped" in done.output
    broken = cli({**env, "PAYMENTS_AUDIT_KEY": "another-key"}, "restore", "--check", str(archive))
    assert broken.exit_code == 1
    assert "its sealed history does not check: BROKEN at position 1" in broken.output
    assert "(or it was sealed with another audit key)" in broken.output
    assert tables(services.database_url) == before
    assert not [d for d in databases(admin_database_url) if d.startswith(CHECK_PREFIX)]


def test_a_restore_check_needs_a_user_who_may_create_a_database(
    fresh_database_url: str, tmp_path: Path
) -> None:
    archive = tmp_path / "payments.dump"
    backup(fresh_database_url, archive)
    role = f"payments_no_createdb_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    try:
        env = {
            "PAYMENTS_DATA_DIR": str(tmp_path / "data"),
            "PAYMENTS_DATABASE_URL": make_conninfo(fresh_database_url, user=role),
        }
        refused = cli(env, "restore", "--check", str(archive))
        assert refused.exit_code == 1
        assert refused.output.strip().splitlines()[-1] == (
            "Error: checking a backup restores it into a new database beside this one, and"
            f" {role} may not create one (CREATEDB): restore it elsewhere"
        )
    finally:
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_user_who_may_not_read_the_tables_is_refused_on_one_line_and_nothing_is_written(
    services: Services, tmp_path: Path
) -> None:
    make_history(services.application, 5, seed=6)
    role = f"payments_reads_nothing_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        env = {
            "PAYMENTS_DATA_DIR": str(tmp_path / "data"),
            "PAYMENTS_DATABASE_URL": make_conninfo(services.database_url, user=role),
        }
        refused = cli(env, "backup", str(tmp_path / "payments.dump"))
        assert refused.exit_code == 1
        assert refused.output.strip().splitlines()[-1] == (
            "Error: PostgreSQL refused: permission denied for table payments_events"
        )
        assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]  # no file, no partial
    finally:
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
