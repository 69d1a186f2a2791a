"""Which bundled pg_dump a backup uses, and that no password reaches a command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from payments.runtime.backup import (
    BackupFailed,
    archive_majors,
    bundled_programs,
    bundled_versions,
    libpq_arguments,
)

VERSIONS = {16: Path("/pg16/bin"), 18: Path("/pg18/bin")}


def test_the_oldest_bundled_programs_at_least_as_new_as_the_server_are_chosen() -> None:
    assert bundled_programs(15, VERSIONS) == Path("/pg16/bin")
    assert bundled_programs(16, VERSIONS) == Path("/pg16/bin")
    assert bundled_programs(17, VERSIONS) == Path("/pg18/bin")
    assert bundled_programs(18, VERSIONS) == Path("/pg18/bin")
    with pytest.raises(BackupFailed, match="PostgreSQL 19 is newer than the bundled pg_dump"):
        bundled_programs(19, VERSIONS)


def test_the_bundled_programs_are_there() -> None:
    for folder in bundled_versions().values():
        assert (folder / "pg_dump").is_file()
        assert (folder / "pg_restore").is_file()


def test_the_password_travels_in_the_environment_not_on_the_command_line() -> None:
    conninfo, env = libpq_arguments("host=db user=payments password=s3cret dbname=pay")
    assert "s3cret" not in conninfo
    assert "dbname=pay" in conninfo
    assert env["PGPASSWORD"] == "s3cret"
    conninfo, env = libpq_arguments("postgresql://payments:s3cret@db:5433/pay")
    assert "s3cret" not in conninfo
    assert "port=5433" in conninfo
    assert env["PGPASSWORD"] == "s3cret"


def test_the_versions_an_archive_was_dumped_from_and_by_are_read_from_its_listing() -> None:
    listing = (
        ";\n; Archive created at 2026-12-07 00:56:18 UTC\n;     Dump Version: 1.15-0\n"
        ";     Dumped from database version: 15.20 (Debian 15.20-0+deb12u1)\n"
        ";     Dumped by pg_dump version: 16.14\n;\n"
    )
    assert archive_majors(listing) == (15, 16)
    with pytest.raises(BackupFailed, match="names no versions"):
        archive_majors("; Archive created at 2026-12-07\n")
