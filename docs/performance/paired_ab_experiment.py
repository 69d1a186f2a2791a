"""Paired A/B of `payments api` variants under load, an experiment (issue #19).

This machine's speed drifts by up to ~2x within minutes (other tenants), so two runs one
after the other disagree by more than the effects we look for. Here every variant's server
is up at once, each on a database of its own, and the load is sent to them in turn in short
slices (the order reversed every round), so that a slow moment hits them alike. For each
variant it prints the median rate, the median of its per-round ratio to the first variant,
and the median **server CPU ÷ client CPU** per request: the server's CPU seconds (its
process tree, /proc) over the load generator's, whose work per request is fixed, so that a
slower moment of the machine cancels out. Two servers of the same code agree on that
figure within ~4 %; rates within ~10 %.

    VARIANTS='name=PYTHONPATH[:ENV=V|ENV2=V2];...' \\
        python docs/performance/paired_ab_experiment.py ADMIN_URL [levels] [slice] [rounds]

ADMIN_URL: a PostgreSQL server URL whose user may create databases. PYTHONPATH: the
checkout a variant runs (a `git worktree`); ENV: its extra environment, e.g.
`EXP_DROP=logs,prom` with `docs/performance/ablation-experiment.patch` applied there.
Defaults: levels 16, slices of 400 checkouts, 8 rounds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from payments.bench.cpu import tree_cpu_seconds
from payments.bench.harness import (
    BENCH_RATE_LIMIT,
    PAYMENTS,
    ChildProcess,
    child_env,
    create_key,
    free_port,
)


@dataclass
class Variant:
    name: str
    pythonpath: str
    env: dict[str, str]
    port: int = 0
    key: str = ""
    server: ChildProcess | None = None
    rates: list[float] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)


def parse_variants(text: str) -> list[Variant]:
    variants = []
    for spec in text.split(";"):
        name, rest = spec.split("=", 1)
        path, _, extra = rest.partition(":")
        env = dict(pair.split("=", 1) for pair in extra.split("|") if pair)
        variants.append(Variant(name, path, env))
    return variants


def start(variant: Variant, admin_url: str, work: Path) -> str:
    """Start the variant's `payments api` on a fresh database; answer the database's name."""
    database = f"paired_{variant.name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    variant.port = free_port()
    env = child_env(
        PAYMENTS_DATABASE_URL=make_conninfo(admin_url, dbname=database),
        PAYMENTS_DATA_DIR=str(work / variant.name),
        PAYMENTS_PORT=str(variant.port),
        PAYMENTS_HOST="127.0.0.1",
        PAYMENTS_API_PROCESSES="1",
        PAYMENTS_RATE_LIMIT_PER_KEY=BENCH_RATE_LIMIT,
        PYTHONPATH=variant.pythonpath,
        **variant.env,
    )
    variant.server = ChildProcess(
        variant.name, [PAYMENTS, "api"], env, work / f"{variant.name}.log"
    )
    variant.server.wait_http(f"http://127.0.0.1:{variant.port}/health")
    variant.key = create_key(env, "admin")
    return database


def load(variant: Variant, clients: int, count: int, work: Path) -> dict[str, Any]:
    out = work / f"loadgen-{uuid.uuid4().hex[:8]}.json"
    spec = {
        "prefix": f"co{uuid.uuid4().hex[:10]}",
        "start": 0,
        "deadline_s": 600,
        "url": f"http://127.0.0.1:{variant.port}",
        "key": variant.key,
        "mode": "closed",
        "clients": clients,
        "count": count,
    }
    command = [sys.executable, "-m", "payments.bench.loadgen", json.dumps(spec), str(out)]
    subprocess.run(command, check=True)
    answer: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return answer


def measure(variant: Variant, clients: int, count: int, work: Path) -> None:
    assert variant.server is not None
    before = tree_cpu_seconds(variant.server.pid) or 0.0
    answer = load(variant, clients, count, work)
    after = tree_cpu_seconds(variant.server.pid) or 0.0
    done = answer["statuses"].get("201", 0)
    if done != count:
        raise RuntimeError(f"{variant.name}: {answer['statuses']}")
    variant.rates.append(done / answer["elapsed_s"])
    variant.cpu_ratios.append((after - before) / answer["cpu_s"])


def main() -> None:
    admin_url = sys.argv[1]
    levels = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "16").split(",")]
    slice_count = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    variants = parse_variants(os.environ["VARIANTS"])
    work = Path(tempfile.mkdtemp(prefix="paired-ab-"))
    databases: list[str] = []
    try:
        for variant in variants:
            databases.append(start(variant, admin_url, work))
            load(variant, 4, 300, work)  # warm up
        for clients in levels:
            for variant in variants:
                variant.rates, variant.cpu_ratios = [], []
            for index in range(rounds):
                for variant in variants if index % 2 == 0 else reversed(variants):
                    measure(variant, clients, slice_count, work)
            first = variants[0]
            for variant in variants:
                paired = [a / b for a, b in zip(variant.rates, first.rates, strict=True)]
                print(
                    f"{clients:>2} clients {variant.name:>12}: "
                    f"{statistics.median(variant.rates):7.1f} checkouts/s, "
                    f"÷ {first.name} {statistics.median(paired):.3f} "
                    f"(rounds {min(paired):.2f}-{max(paired):.2f}), "
                    f"server CPU ÷ client CPU {statistics.median(variant.cpu_ratios):.2f}",
                    flush=True,
                )
    finally:
        for variant in variants:
            if variant.server is not None:
                variant.server.stop()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for database in databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
