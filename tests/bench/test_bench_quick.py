"""`payments bench --quick` produces well-formed tables and JSON (tiny sizes; nothing is timed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from payments.bench.harness import BenchContext
from payments.bench.scenarios import SCENARIOS
from payments.bench.timing import percentiles_ms
from payments.cli.main import main

TINY = {
    "ingest": ["count=8", "warmup=2", "levels=1,4", "open_rate=20", "open_seconds=1"],
    "executor": ["orders=9", "tokens=1", "latencies_ms=0,50"],
    "projections": ["orders=60"],
    "reconcile": ["lines=200"],
    "refunds": ["checkouts=10", "levels=1,4", "contended_orders=2", "contenders=5"],
    "audit": ["postings=200", "verify_orders=30"],
    "day": ["orders=30"],
    "risk": ["count=12", "clients=4"],
    "applied": ["orders=30"],
    "http_clients": ["count=50"],
    "webhooks": ["orders=40", "deliveries=30", "levels=2,4", "slow_ms=200", "fair_deliveries=20"],
}


def test_every_registered_scenario_has_a_tiny_run() -> None:
    assert set(SCENARIOS) == set(TINY)
    assert list(SCENARIOS)[:2] == ["ingest", "executor"]


def test_percentiles_use_nearest_rank_in_milliseconds() -> None:
    sample = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert percentiles_ms(sample) == {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert percentiles_ms([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}


def test_overrides_take_the_type_of_the_default(tmp_path: Path) -> None:
    ctx = BenchContext(
        quick=True,
        overrides={"count": "7", "levels": "1,16", "rate": "2.5"},
        admin_url="",
        database_kind="",
        work_dir=tmp_path,
        console=None,  # type: ignore[arg-type]
    )
    assert ctx.param("count", 3000, 200) == 7
    assert ctx.param("levels", [1, 4, 16], [1, 4, 16]) == [1, 16]
    assert ctx.param("rate", 120.0, 120.0) == 2.5
    assert ctx.param("absent", 3000, 200) == 200


def test_unknown_scenario_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["bench", "nope"])
    assert result.exit_code == 2
    assert "unknown scenario" in result.output


@pytest.mark.parametrize("scenario", sorted(TINY))
def test_quick_run_writes_tables_goals_and_json(
    scenario: str, admin_database_url: str, tmp_path: Path
) -> None:
    assert scenario in SCENARIOS
    args = ["bench", scenario, "--quick", "--out", str(tmp_path), "--database-url"]
    sizes = [arg for option in TINY[scenario] for arg in ("-o", option)]
    result = CliRunner().invoke(main, [*args, admin_database_url, *sizes])
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob(f"{scenario}-*.json")
    document = json.loads(path.read_text())
    assert document["scenario"] == scenario
    assert document["quick"] is True
    assert document["tables"]
    for table in document["tables"]:
        assert table["rows"]
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
        assert table["title"] in result.output
    for goal in document["goals"]:
        assert set(goal) == {"name", "target", "measured", "met"}
        assert isinstance(goal["met"], bool)
    assert "goals" in result.output
    # what was measured on: the commit, the machine's yardstick and load, in the file and shown
    machine = document["machine"]
    assert machine["commit"]
    assert f"measured at {machine['commit']}" in result.output
    assert machine["loop_million_steps_per_s"] > 0
    assert 0 < machine["cores_busy_share"] <= 1.05  # the benchmark's own work keeps a core busy
    assert 0 <= machine["cores_stolen_share"] <= machine["cores_busy_share"]
    if scenario == "day":  # the invariants are the day's point: each holds, verify included
        assert {goal["name"]: goal["met"] for goal in document["goals"]} == {
            goal["name"]: True for goal in document["goals"]
        }
        assert "every view identical to its rebuild (verify)" in result.output
        cost = document["data"]["cost"]
        assert cost["database_mib"] > 0
        assert all(peak > 0 for peak in cost["peak_rss_mib"].values())
        # CPU by stage and process: the executor (bench) and the API burn some to execute
        cpu = document["data"]["cpu_seconds"]
        assert set(cpu) == set(document["data"]["stages"]) - {"start"}
        assert cpu["execute"]["bench"] > 0
        assert cpu["place"]["payments api"] > 0
        assert "day: CPU seconds by stage and process" in result.output
    if scenario == "http_clients":  # every client POSTed; the first row is the baseline
        (table,) = document["tables"]
        assert len(table["rows"]) == 4
        assert table["rows"][0][3] == 1.0
        assert all(row[1] > 0 and row[2] > 0 for row in table["rows"])
    if scenario == "webhooks":  # a delivery per order, each POSTed once; every ratio there
        assert [goal["met"] for goal in document["goals"]] == [True, True, True, True]
        assert document["data"]["feed"]["deliveries"] == 40
        feed, events, lookups, sender, fairness = document["tables"]
        reads = document["data"]["events"]  # GET /events read back: every order's success
        assert 40 <= reads["listed_count"] <= reads["read_count"] == reads["decoded_count"]
        assert all(
            rate > 0 for way in ("listed", "read", "decoded") for rate in reads[f"{way}_per_s"]
        )
        assert (reads["rare_page_items"], len(events["rows"])) == (0, 4)
        found = document["data"]["lookups"]  # by id, each answer checked equal to the page's
        assert found["indexed_events"] > 0
        assert found["applied_count"] > 0
        assert found["behind_count"] > 0
        assert len(lookups["rows"]) == 2
        assert [row[1] for row in fairness["rows"]] == [20, 20]  # the fast one's, alone, beside
        assert document["data"]["fairness"]["slow_delivered"] < 20
        assert all(row[4] > 0 and row[5] > 0 for row in feed["rows"][:3])
        for level in (2, 4):
            rows = [row for row in sender["rows"] if row[1] == level]
            assert [row[2] for row in rows[:3]] == [30, 30, 30]  # ceiling, records, sender
            assert all(row[4] > 0 and row[6] > 0 for row in rows[:3])
    if scenario == "ingest":  # the load generator's requests all answered, and it says its CPU
        data = document["data"]
        for level in ("1", "4"):
            api = data["measured"]["api"][level]
            assert (api["done"], api["errors"], api["statuses"]) == (8, 0, {"201": 8})
            assert api["client_cpu_ms"] > 0
        assert data["open_loop"]["ok"] == data["open_loop"]["sent"] == 20
        assert data["read_after_write"]["other"] == {}
        assert sum(data["read_after_write"]["statuses"].values()) > 0
    if scenario == "applied":  # every placed order reached the ledger and its wallet
        data = document["data"]
        assert data["placed"] == data["applied"] == data["orders"] == 30
        assert data["errors"] == 0
        assert data["applied_per_s"] > 0
        assert data["accepted_per_s"] > 0
        # each role's CPU over the run: every process took part in applying the orders
        spent = data["cpu_seconds"]["applied"]
        for role in ("psp sandbox", "payments api", "worker", "projections"):
            assert spent[role] > 0, role
        assert "applied: CPU seconds by process" in result.output


def test_the_overlapped_day_meets_every_invariant(admin_database_url: str, tmp_path: Path) -> None:
    """`-o overlap=1`: a worker process and the projections process work while orders arrive;
    the books still close with every invariant met, and their memory is reported."""
    args = ["bench", "day", "--quick", "--out", str(tmp_path), "--database-url"]
    result = CliRunner().invoke(
        main, [*args, admin_database_url, "-o", "orders=30", "-o", "overlap=1"]
    )
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob("day-*.json")
    document = json.loads(path.read_text())
    assert [goal for goal in document["goals"] if not goal["met"]] == [], result.output[-3000:]
    assert document["data"]["shape"] == {"overlap": True, "workers": 1, "api_processes": 1}
    peaks = document["data"]["cost"]["peak_rss_mib"]
    assert peaks["payments worker 1"] > 0
    assert peaks["payments projections"] > 0
    # the roles' CPU is counted in the stages they work in
    assert document["data"]["cpu_seconds"]["execute"]["payments worker 1"] > 0
    assert document["data"]["execute"]["open_at_deadline"] == 0
