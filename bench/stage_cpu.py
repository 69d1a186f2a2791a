"""CPU seconds each process of a run spent in each stage (Linux /proc; empty elsewhere).

A stage's wall time moves with the machine's other load; the CPU each role burns per order
moves far less, so it says which role a change made cheaper. The machine's busy time comes
from /proc/stat; what no named process spent (PostgreSQL's backends, the kernel, anything
else running) is the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from payments.bench.cpu import machine_busy_seconds, own_cpu_seconds, tree_cpu_seconds
from payments.bench.harness import Table

BENCH = "bench"
REST = "rest (PostgreSQL, kernel, other)"


class StageCpu:
    """`with cpu.stage("execute"):` records the CPU seconds of the bench process itself, of each
    process tree in `roles` (name -> pid) and of the rest. A role must still live when its
    stage ends: the CPU of a process that exited counts in the rest."""

    def __init__(self) -> None:
        self.roles: dict[str, int] = {}
        self.stages: dict[str, dict[str, float]] = {}

    def _reading(self) -> dict[str, float] | None:
        machine = machine_busy_seconds()
        if machine is None:
            return None
        reading = {"machine": machine, BENCH: own_cpu_seconds()}
        for name, pid in self.roles.items():
            seconds = tree_cpu_seconds(pid)
            if seconds is not None:
                reading[name] = seconds
        return reading

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        before = self._reading()
        yield
        after = self._reading()
        if before is None or after is None:
            return
        # a process started inside the stage spent nothing before it
        spent = {
            role: round(after[role] - before.get(role, 0.0), 2)
            for role in after
            if role != "machine"
        }
        named = sum(spent.values())
        spent[REST] = round(max(0.0, after["machine"] - before["machine"] - named), 2)
        self.stages[name] = spent

    def table(
        self, per_order: dict[str, int], title: str = "day: CPU seconds by stage and process"
    ) -> Table | None:
        """Seconds per stage and role; for the stages in `per_order`, also ms per order."""
        if not self.stages:
            return None
        roles = list(dict.fromkeys(role for spent in self.stages.values() for role in spent))
        table = Table(title, ["stage", *roles, "total"])
        for stage, spent in self.stages.items():
            total = sum(spent.values())
            table.add(stage, *(spent.get(role, 0.0) for role in roles), round(total, 2))
            items = per_order.get(stage)
            if items:
                table.add(
                    f"{stage}: ms per order",
                    *(round(spent.get(role, 0.0) * 1000 / items, 3) for role in roles),
                    round(total * 1000 / items, 3),
                )
        return table
