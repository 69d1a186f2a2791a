"""schemathesis (`--checks all`, stateful phase included) finds nothing against `payments serve`.

A fixed seed and a bounded number of examples keep the run reproducible and under two
minutes; the config beside this file lists the 422s that are rules no schema can state, and
the run's own config binds path parameters to objects seeded first (seeding.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conformance.conftest import Served
from tests.conformance.run import run_schemathesis
from tests.conformance.seeding import config, seed

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.mark.slow
def test_schemathesis_finds_no_failure(served: Served, tmp_path: Path) -> None:
    # Real orders, refunds, payouts, sellers and runs behind most generated path ids: the
    # operations on them reach their logic instead of answering 404 (seeding.py).
    seeded = seed(served.url, served.sandbox_url, served.key)
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config(CONFIG.read_text(), seeded))
    result = run_schemathesis(
        served.url,
        config_file,
        tmp_path / "junit.xml",
        {"PAYMENTS_API_KEY": served.key},  # the config's bearer auth reads it
        timeout=900,  # 110-280 s alone; far more on a machine busy with other work
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    assert "Stateful" in summary  # the phase that follows the links ran
    cases = re.search(r"(\d+) generated", summary)
    assert cases is not None, summary
    assert int(cases.group(1)) > 500, summary
    assert "failures" not in summary.splitlines()[-1], summary
