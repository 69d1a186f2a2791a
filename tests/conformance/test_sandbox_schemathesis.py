"""schemathesis (`--checks all`, stateful phase included) finds nothing against the sandbox PSP.

The sandbox runs alone, as `python -m payments.psp.sandbox` starts it, with an API key. A fixed
seed and a bounded number of examples keep the run reproducible and under two minutes; the
config beside this file lists, per operation and with its reason, the answers that are rules no
schema can state (a Luhn digit, a token that was never issued, ...). Nothing is relaxed globally.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conformance.conftest import ServedSandbox

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CONFIG = Path(__file__).with_name("sandbox_schemathesis.toml")


def run_schemathesis(sandbox: ServedSandbox, report: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PSP_SANDBOX_API_KEY": sandbox.api_key,  # the config's bearer auth reads it
        "PYTHONPATH": str(ROOT),  # for the config's hooks module
    }
    return subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file", str(CONFIG),
            "--no-color",
            "run", f"{sandbox.url}/schema/openapi.json",
            "--checks", "all",
            "--max-examples", "50",
            "--seed", "1",
            "--workers", "1",
            "--request-timeout", "10",
            "--report", "junit",
            "--report-junit-path", str(report),
        ],
        cwd=report.parent,  # its cache directory goes there, not into the repository
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_schemathesis_finds_no_failure_in_the_sandbox(
    served_sandbox: ServedSandbox, tmp_path: Path
) -> None:
    result = run_schemathesis(served_sandbox, tmp_path / "junit.xml")
    summary = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, summary
    assert "Stateful" in summary  # the phase that follows the links ran
    cases = re.search(r"(\d+) generated", summary)
    assert cases is not None, summary
    assert int(cases.group(1)) > 1000, summary
    assert "failures" not in result.stdout.splitlines()[-1], summary
