"""What a benchmark says it measured on: the code's commit, a yardstick of the machine's
interpreter speed and the machine's load (bench/provenance.py)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

import payments
from payments.bench.provenance import Machine, _git, code_revision, loop_steps_per_second

ROOT = Path(payments.__file__).resolve().parent.parent


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout"
)
def test_the_revision_is_the_checkouts_commit_marked_when_files_differ() -> None:
    revision = code_revision()
    commit, _, mark = revision.partition("+")
    assert commit == _git(ROOT, "rev-parse", "--short=7", "HEAD")
    differs = bool(_git(ROOT, "status", "--porcelain", "--untracked-files=no"))
    assert mark == ("changes" if differs else "")


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_a_copy_inside_another_checkout_is_not_that_checkouts_commit(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    author = ("-c", "user.name=t", "-c", "user.email=t@example.com")
    _git(tmp_path, *author, "commit", "-q", "--allow-empty", "-m", "first")
    commit = _git(tmp_path, "rev-parse", "--short=7", "HEAD")
    assert code_revision(tmp_path) == commit  # the checkout itself
    site = tmp_path / ".venv" / "lib" / "site-packages"  # an installed copy within it
    site.mkdir(parents=True)
    assert commit not in code_revision(site)
    assert code_revision(site).startswith(("payments ", "unknown"))


def test_the_yardstick_is_a_positive_rate_in_millions() -> None:
    speed = loop_steps_per_second(repeats=1)
    assert 0.5 < speed < 1000  # any machine that runs Python at all, in M steps/s


def test_the_machine_readings_cover_the_span_between_start_and_finish() -> None:
    machine = Machine.start()
    # Some work of our own, for half a second: the kernel counts busy time in ticks of
    # 10 ms per core, so over a span of ~50 ms a loaded machine read up to 1.07 of its cores.
    until = time.monotonic() + 0.5
    while time.monotonic() < until:
        sum(range(100_000))
    machine.finish()
    assert machine.load_before is not None
    assert machine.load_before >= 0
    assert machine.load_after is not None
    assert machine.load_after >= 0
    assert machine.busy_share is not None
    assert 0 < machine.busy_share <= 1.05
    assert machine.stolen_share is not None
    assert 0 <= machine.stolen_share <= machine.busy_share
    described = machine.describe()
    assert described.startswith(f"load {machine.load_before:.2f} → {machine.load_after:.2f}")
    assert described.endswith(f"busy ({machine.stolen_share:.0%} of their time taken by the host)")
