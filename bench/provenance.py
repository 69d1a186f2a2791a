"""What a benchmark's figures were measured on: the code, the machine's speed and its load.

A rate on one machine is not a rate on another (the same commit's `applied` moved 30 % between
two days' machines), so every run states the commit it measured, how fast this machine runs a
fixed pure-Python loop (the interpreter is what every process here spends its time in) and how
loaded the machine was: the load average before and after each scenario and the share of its
cores that were busy meanwhile (the benchmark's own processes included).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import payments
from payments.bench.cpu import machine_busy_seconds, machine_stolen_seconds

LOOP_STEPS = 2_000_000


def code_revision(root: Path | None = None) -> str:
    """The commit of the checkout this code runs from (`+changes` when files differ from it),
    or the installed distribution's version outside one (a copy in site-packages, even of a
    virtual environment that lies inside some checkout)."""
    root = (root or Path(payments.__file__).parent.parent).resolve()
    try:
        if Path(_git(root, "rev-parse", "--show-toplevel")).resolve() != root:
            raise subprocess.SubprocessError("installed inside another checkout")
        commit = _git(root, "rev-parse", "--short=7", "HEAD")
        changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        try:
            return f"payments {importlib.metadata.version('payments')} (not a git checkout)"
        except importlib.metadata.PackageNotFoundError:
            return "unknown"
    return f"{commit}+changes" if changed else commit


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def loop_steps_per_second(repeats: int = 3) -> float:
    """Millions of steps a second of a fixed pure-Python loop, the best of `repeats`: a
    yardstick of this machine's interpreter speed, measured in the same run as the figures."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for step in range(LOOP_STEPS):
            total += step
        best = min(best, time.perf_counter() - started)
    return round(LOOP_STEPS / best / 1e6, 2)


def load_average() -> float | None:
    """The machine's 1-minute load average (None where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


@dataclass
class Machine:
    """Readings before a scenario; `finish()` adds the ones after it."""

    load_before: float | None
    busy_before: float | None
    started: float
    stolen_before: float | None = None
    load_after: float | None = None
    busy_share: float | None = None
    stolen_share: float | None = None  # of the cores' time, what the host took (steal)

    @classmethod
    def start(cls) -> Machine:
        return cls(
            load_average(), machine_busy_seconds(), time.monotonic(), machine_stolen_seconds()
        )

    def finish(self) -> None:
        self.load_after = load_average()
        busy = machine_busy_seconds()
        elapsed = time.monotonic() - self.started
        cores = os.cpu_count() or 1
        if busy is not None and self.busy_before is not None and elapsed > 0:
            self.busy_share = round((busy - self.busy_before) / (elapsed * cores), 3)
        stolen = machine_stolen_seconds()
        if stolen is not None and self.stolen_before is not None and elapsed > 0:
            self.stolen_share = round((stolen - self.stolen_before) / (elapsed * cores), 3)

    def describe(self) -> str:
        def shown(value: float | None) -> str:
            return "?" if value is None else f"{value:.2f}"

        busy = "" if self.busy_share is None else f", cores {self.busy_share:.0%} busy"
        if self.stolen_share is not None:
            busy += f" ({self.stolen_share:.0%} of their time taken by the host)"
        return f"load {shown(self.load_before)} → {shown(self.load_after)}{busy}"
