"""CPU seconds a process tree spent: what a request costs a process, a figure that the
machine's other load moves far less than a rate (Linux /proc; None elsewhere)."""

from __future__ import annotations

import os
import resource
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, user + system seconds) of a live process, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid` and its live descendants (a child process of
    `payments serve`, e.g. the projections, counts with it); None without /proc."""
    if not Path("/proc/self/stat").exists():
        return None
    stats = {p: s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(p)) is not None}
    children: dict[int, list[int]] = {}
    for p, (parent, _) in stats.items():
        children.setdefault(parent, []).append(int(p))
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        if (found := stats.get(str(current))) is not None:
            total += found[1]
        pending.extend(children.get(current, ()))
    return total


def child_pids(pid: int) -> list[int]:
    """The live children of `pid` (e.g. the API processes of `payments api`); [] without /proc."""
    if not Path("/proc/self/stat").exists():
        return []
    found = ((int(p), _stat(p)) for p in os.listdir("/proc") if p.isdigit())
    return sorted(child for child, stat in found if stat is not None and stat[0] == pid)


def per_item_ms(before: float | None, after: float | None, items: int) -> float | None:
    """CPU milliseconds per item between two readings (None when unknown or no items)."""
    if before is None or after is None or items <= 0:
        return None
    return round((after - before) * 1000 / items, 2)


def machine_busy_seconds() -> float | None:
    """CPU seconds every core of the machine spent busy since boot (None without /proc)."""
    ticks = _cpu_ticks()
    return None if ticks is None else sum(ticks) / _TICKS


def machine_stolen_seconds() -> float | None:
    """CPU seconds the cores of this virtual machine waited while the host ran something
    else ("steal", counted in machine_busy_seconds too), since boot (None without /proc)."""
    ticks = _cpu_ticks()
    return None if ticks is None else ticks[-1] / _TICKS


def _cpu_ticks() -> tuple[int, ...] | None:
    """user, nice, system, irq, softirq and steal ticks of all cores (/proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[1:9])
    except (OSError, IndexError, ValueError):
        return None
    return user, nice, system, irq, softirq, steal


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
