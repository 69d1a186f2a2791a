"""`payments serve` (and `payments api`) refuses what it cannot start with, on one line,
before it starts anything."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from payments.runtime.ports import CannotStart
from payments.runtime.roles import SandboxProcess
from tests.e2e.processes import free_port, run_payments


def payments(
    database_url: str, data_dir: Path, *args: str, **ports: int
) -> subprocess.CompletedProcess[str]:
    """`payments ARGS` on the test's database, with PAYMENTS_<NAME> set for each port."""
    env = {"PAYMENTS_DATABASE_URL": database_url, "PAYMENTS_DATA_DIR": str(data_dir)}
    env |= {f"PAYMENTS_{name.upper()}": str(port) for name, port in ports.items()}
    return run_payments(*args, env=env)


def test_a_port_in_use_is_named_with_its_setting_before_anything_starts(
    database_url: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        for command, api, sandbox, setting, what in (
            ("serve", busy, free_port(), "PAYMENTS_PORT or --port", "the API"),
            ("serve", free_port(), busy, "PAYMENTS_PSP_SANDBOX_PORT", "the PSP sandbox"),
            ("api", busy, free_port(), "PAYMENTS_PORT", "the API"),
        ):
            done = payments(database_url, tmp_path, command, port=api, psp_sandbox_port=sandbox)
            assert done.returncode == 1
            assert "Traceback" not in done.stderr
            assert done.stderr.strip().splitlines()[-1] == (
                f"Error: {what} cannot listen on 127.0.0.1:{busy}: Address already in use"
                f" (another `payments serve`?); choose another with {setting}"
            )
            assert not (tmp_path / "psp-sandbox").exists()  # no role was started
    same = free_port()
    done = payments(database_url, tmp_path, "serve", "--port", str(same), psp_sandbox_port=same)
    assert done.returncode == 2  # a usage error
    assert f"the API and the PSP sandbox cannot share port {same}" in done.stderr


def test_a_sandbox_that_exits_at_start_is_refused_with_its_last_error(tmp_path: Path) -> None:
    sandbox = SandboxProcess(tmp_path, free_port(), "http://127.0.0.1:1/", tmp_path / "secret")
    (tmp_path / "psp-sandbox.log").write_text("ERROR: an earlier run's\n")  # not this run's
    for exits, said in (
        (
            "print('INFO: starting'); sys.exit('ERROR:   the sandbox broke')",
            "ERROR: the sandbox broke",
        ),
        ("print('INFO: starting', flush=True); sys.exit(3)", "INFO: starting"),
    ):
        sandbox.command = [sys.executable, "-c", f"import sys; {exits}"]
        with pytest.raises(CannotStart) as refused:
            sandbox.start()
        log = tmp_path / "psp-sandbox.log"
        assert str(refused.value) == f"the PSP sandbox exited: {said}; its log: {log}"
