"""schemathesis (`--checks all`, stateful phase included) finds nothing against the sandbox PSP.

The sandbox runs alone, as `python -m payments.psp.sandbox` starts it, with an API key. A fixed
seed and a bounded number of examples keep the run reproducible and under two minutes; the
config beside this file lists, per operation and with its reason, the answers that are rules no
schema can state (a Luhn digit, a token that was never issued, ...). Nothing is relaxed globally.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conformance.conftest import ServedSandbox
from tests.conformance.run import run_schemathesis

CONFIG = Path(__file__).with_name("sandbox_schemathesis.toml")


@pytest.mark.slow
def test_schemathesis_finds_no_failure_in_the_sandbox(
    served_sandbox: ServedSandbox, tmp_path: Path
) -> None:
    result = run_schemathesis(
        served_sandbox.url,
        CONFIG,
        tmp_path / "junit.xml",
        {"PSP_SANDBOX_API_KEY": served_sandbox.api_key},  # the config's bearer auth reads it
        timeout=300,
    )
    summary = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, summary
    assert "Stateful" in summary  # the phase that follows the links ran
    cases = re.search(r"(\d+) generated", summary)
    assert cases is not None, summary
    assert int(cases.group(1)) > 1000, summary
    assert "failures" not in result.stdout.splitlines()[-1], summary
