"""One schemathesis run as the conformance tests make it: `--checks all` with the stateful
phase, a fixed seed, 50 examples an operation, one worker, and a JUnit report."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


def run_schemathesis(
    url: str, config_file: Path, report: Path, keys: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run schemathesis against the OpenAPI document served at `url`; `keys` are the
    environment variables the config's bearer auth reads."""
    return subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file", str(config_file),
            "--no-color",
            "run", f"{url}/schema/openapi.json",
            "--checks", "all",
            "--max-examples", "50",
            "--seed", "1",
            "--workers", "1",
            "--request-timeout", "10",
            "--report", "junit",
            "--report-junit-path", str(report),
        ],
        cwd=report.parent,  # its cache directory goes there, not into the repository
        env={**os.environ, **keys, "PYTHONPATH": str(ROOT)},  # PYTHONPATH: the hooks module
        capture_output=True,
        text=True,
        timeout=timeout,
    )  # fmt: skip
