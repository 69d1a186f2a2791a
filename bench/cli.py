"""`payments bench [SCENARIO...] [--quick] [--out bench/results] [-o name=value ...]`."""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

DEFAULT_OUT = Path("bench/results")


@click.command()
@click.argument("scenarios", nargs=-1)
@click.option("--quick", is_flag=True, help="Tiny sizes: seconds, not minutes (smoke runs).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Directory for <scenario>-<timestamp>.json.",
)
@click.option(
    "--database-url",
    envvar="PAYMENTS_DATABASE_URL",
    default=None,
    help="PostgreSQL server to create scratch databases on "
    "(default PAYMENTS_DATABASE_URL, else an embedded server in a fresh temp dir).",
)
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override one size of a scenario, e.g. -o count=500 -o levels=1,16 (see bench/README.md).",
)
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
def bench(
    scenarios: tuple[str, ...],
    quick: bool,
    out: Path,
    database_url: str | None,
    options: tuple[str, ...],
    list_only: bool,
) -> None:
    """Benchmarks: each scenario prints its tables and goals and writes a JSON file.

    SCENARIO names (all when none): see --list.
    """
    from rich.console import Console

    from payments.bench.harness import (
        BenchContext,
        database_server,
        database_server_version,
        print_result,
        write_result,
    )
    from payments.bench.provenance import Machine, code_revision, loop_steps_per_second
    from payments.bench.scenarios import SCENARIOS
    from payments.runtime.logs import configure_logging

    if list_only:
        for name, function in SCENARIOS.items():
            doc = (inspect.getmodule(function).__doc__ or "").strip()
            click.echo(f"{name:12} {doc.splitlines()[0] if doc else ''}")
        return
    unknown = [name for name in scenarios if name not in SCENARIOS]
    if unknown:
        raise click.UsageError(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    overrides: dict[str, str] = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name:
            raise click.UsageError(f"-o takes NAME=VALUE, not {option!r}")
        overrides[name.strip()] = value.strip()
    configure_logging("WARNING")
    # SIGTERM (kill, timeout) unwinds like Ctrl-C: the scenarios' `finally` stop the servers
    # they started in their own sessions, which would otherwise outlive the benchmark.
    signal.signal(signal.SIGTERM, _interrupted)
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 140)  # files and CI logs: keep tables unwrapped
    chosen = list(scenarios) or list(SCENARIOS)
    with database_server(database_url) as (admin_url, kind):
        console.print(f"database: {kind}, PostgreSQL {database_server_version(admin_url)}")
        commit, loop_speed = code_revision(), loop_steps_per_second()
        console.print(
            f"code: {commit}; machine: {os.cpu_count()} cores, a pure-Python loop at "
            f"{loop_speed:.1f} M steps/s (compare runs on other machines against it)"
        )
        for name in chosen:
            work_dir = Path(tempfile.mkdtemp(prefix=f"payments-bench-{name}-"))
            work_dir.chmod(0o755)
            context = BenchContext(
                quick=quick,
                overrides=overrides,
                admin_url=admin_url,
                database_kind=kind,
                work_dir=work_dir,
                console=console,
            )
            started, machine = datetime.now(UTC), Machine.start()
            console.rule(f"{name}{' (quick)' if quick else ''}")
            try:
                result = SCENARIOS[name](context)
            finally:
                context.drop_databases()
            machine.finish()
            print_result(console, result)
            console.print(f"measured at {commit} on {kind}: {machine.describe()}")
            measured_on = {
                "commit": commit,
                "loop_million_steps_per_s": loop_speed,
                "load_average_before": machine.load_before,
                "load_average_after": machine.load_after,
                "cores_busy_share": machine.busy_share,
                "cores_stolen_share": machine.stolen_share,
            }
            path = write_result(
                out, result, quick=quick, database=kind, started=started, measured_on=measured_on
            )
            console.print(f"wrote {path}")
            shutil.rmtree(work_dir, ignore_errors=True)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
