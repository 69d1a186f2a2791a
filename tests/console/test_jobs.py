"""Scheduled jobs in the browser and as JSON: an operator sees each job's schedule, latest
run and last success, and which fails now (here the backup, whose folder cannot be made);
finance too; a merchant is not offered the page. GET /scheduler/jobs answers the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from payments.cli.main import main
from payments.domain.api_key import Role
from payments.runtime.scheduling import job_dependencies
from payments.scheduler.jobs import build_jobs, job_by_id
from payments.scheduler.runner import run_job
from tests.console.conftest import Console, console_on, follow, kept_out, screenshot

NIGHT = datetime(2031, 5, 6, 2, 45, tzinfo=UTC)


@pytest.fixture(scope="module")
def console(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> Iterator[Console]:
    """A stack whose backup folder cannot be made (a file stands where its parent should
    be), with the backup and the purge run once each."""
    blocked = tmp_path_factory.mktemp("jobs") / "a-file"
    blocked.write_text("")
    backups = str(Path(blocked) / "backups")
    with console_on(
        admin_database_url, tmp_path_factory, browser, PAYMENTS_BACKUP_DIR=backups
    ) as console:
        services = console.stack.services
        for job_id in ("database-backup", "idempotency-purge"):
            job = job_by_id(job_dependencies(services), job_id)
            assert run_job(services.pool, job, now=NIGHT) is not None
        yield console


def rows(page: Any) -> dict[str, list[str]]:
    return {
        row.locator("th").inner_text(): [cell.inner_text() for cell in row.locator("td").all()]
        for row in page.locator("#jobs tbody tr").all()
    }


def test_an_operator_sees_which_job_fails_and_why(console: Console) -> None:
    page = console.signed_in(Role.OPERATOR)
    assert page.locator('[data-figure="failing-jobs"]').inner_text() == "1"  # the overview
    tile = page.locator("section.tile", has=page.locator("#t-jobs"))
    assert "database-backup" in tile.inner_text()
    follow(page.get_by_role("link", name="Scheduled jobs"))
    assert page.get_by_role("heading", level=1).inner_text() == "Scheduled jobs"
    assert page.get_by_role("alert").inner_text().startswith("Failing now: database-backup.")
    shown = rows(page)
    expected = [job.job_id for job in build_jobs(job_dependencies(console.stack.services))]
    assert list(shown) == expected
    schedule, _, latest, result, success, detail = shown["database-backup"]
    assert schedule == "daily at 02:45 UTC"
    assert (result, success) == ("failed", "never")
    assert datetime.strptime(latest, "%Y-%m-%d %H:%M:%S")  # when it ran, not when it was due
    assert detail.startswith("NotADirectoryError: ")
    assert detail.endswith("a-file/backups'")
    _, _, _, result, success, _ = shown["idempotency-purge"]
    assert result == "ok"
    assert success != "never"
    _, _, latest, result, success, _ = shown["payout-run"]
    assert (latest, result, success) == ("never", "-", "never")
    screenshot(page, "jobs")

    finance = console.signed_in(Role.FINANCE)
    follow(finance.get_by_role("link", name="Scheduled jobs"))
    assert "database-backup" in finance.get_by_role("alert").inner_text()
    kept_out(console.signed_in(Role.MERCHANT), console.url, "Scheduled jobs", "/jobs")


def test_the_json_list_says_the_same_to_the_same_roles(console: Console) -> None:
    stack = console.stack
    answer = stack.http.get("/scheduler/jobs")
    assert answer.status_code == 200, answer.text
    jobs = {job["job_id"]: job for job in answer.json()["jobs"]}
    backup = jobs["database-backup"]
    assert (backup["failing"], backup["last_success_at"]) == (True, None)
    assert backup["last_run"]["outcome"] == "failed"
    assert backup["last_run"]["tick"] == "2031-05-06"
    assert backup["schedule"] == "daily at 02:45 UTC"
    assert backup["next_run_at"] is not None
    purge = jobs["idempotency-purge"]
    assert (purge["failing"], purge["last_run"]["outcome"]) == (False, "ok")
    assert purge["last_success_at"] is not None
    assert (jobs["audit-seal"]["last_run"], jobs["audit-seal"]["failing"]) == (None, False)
    for role, status in ((Role.FINANCE, 200), (Role.OPERATOR, 200), (Role.MERCHANT, 403)):
        headers = {"authorization": f"Bearer {console.key(role)}"}
        assert stack.http.get("/scheduler/jobs", headers=headers).status_code == status
    seller = {"authorization": f"Bearer {console.key(Role.SELLER, 'seller_x')}"}
    assert stack.http.get("/scheduler/jobs", headers=seller).status_code == 403


def test_the_command_line_lists_the_same_and_exits_1_while_a_job_fails(console: Console) -> None:
    result = CliRunner().invoke(main, ["scheduler", "jobs"], env=console.stack.env)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == "Error: failing now: database-backup"
    assert "last success" in result.output
    assert "NotADirectoryError" in result.output
