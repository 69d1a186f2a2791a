"""The money path's quick benchmarks report sane, non-zero figures (tiny sizes; no timing asserts).

Settlement release after `reconcile`, the wallets' catch-up in `projections` and refund
requests in `refunds`: every rate is positive, every ratio against the same run's baseline is
there, and the outcome goals (each capture released once, wallets equal to the sellers' nets,
every refund accepted once) are met.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from payments.cli.main import main


def _quick(scenario: str, url: str, tmp_path: Path, *sizes: str) -> dict[str, Any]:
    args = ["bench", scenario, "--quick", "--out", str(tmp_path), "--database-url", url]
    options = [arg for size in sizes for arg in ("-o", size)]
    result = CliRunner().invoke(main, [*args, *options])
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob(f"{scenario}-*.json")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _rows(document: dict[str, Any], title_start: str) -> dict[str, list[Any]]:
    [table] = [t for t in document["tables"] if t["title"].startswith(title_start)]
    return {str(row[0]): row for row in table["rows"]}


def test_settlement_release_is_measured_against_a_baseline(
    admin_database_url: str, tmp_path: Path
) -> None:
    document = _quick("reconcile", admin_database_url, tmp_path, "lines=300")
    release = document["data"]["release"]
    assert release["orders"] == 289  # 300 lines: the payout line and 10 planted ones
    assert release["released"] == release["orders"]
    assert release["wallets_match"] is True
    assert release["available_minor"] > 0
    assert all(g["met"] for g in document["goals"] if "1M lines" not in g["name"])
    rows = _rows(document, "reconcile: settlement release")
    for label in (
        "release feed: orders released",
        "wallet feed: FundsReleased applied",
        "baseline: load held orders (mean of before, after)",
        "baseline: save trivial 1-event aggregates (mean)",
    ):
        count, seconds, per_second, versus_baseline = rows[label][1:5]
        assert count == 289
        assert seconds > 0
        assert per_second > 0
        assert versus_baseline > 0


def test_orders_not_held_skip_the_release(admin_database_url: str, tmp_path: Path) -> None:
    document = _quick("reconcile", admin_database_url, tmp_path, "lines=50", "commission=none")
    assert "release" not in document["data"]
    assert any("no settlement release" in note for note in document["notes"])


def test_wallets_catch_up_on_marketplace_money(admin_database_url: str, tmp_path: Path) -> None:
    document = _quick("projections", admin_database_url, tmp_path, "orders=200")
    outcomes = document["data"]["outcomes"]
    assert outcomes["success_then_release"] > 0
    assert outcomes["release_then_refund"] > 0
    raw = document["data"]["raw_events_per_s"]
    assert raw > 0
    figures = {row["projection"]: row for row in document["data"]["projections"]}
    for name in ("order_status", "ledger", "wallets"):
        assert figures[name]["applied"] > 0
        assert figures[name]["rate"] > 0
    rows = _rows(document, "projections: catch-up")
    assert rows["wallets"][5] > 0
    assert rows["ledger"][5] > 0


def test_refund_requests_are_measured_against_place_checkout(
    admin_database_url: str, tmp_path: Path
) -> None:
    document = _quick(
        "refunds",
        admin_database_url,
        tmp_path,
        "checkouts=8",
        "levels=2",
        "contended_orders=2",
        "contenders=4",
    )
    assert [goal for goal in document["goals"] if not goal["met"]] == []
    [level] = document["data"]["levels"]
    assert level["place"]["rate"] > 0
    assert level["place"]["done"] == 8
    assert level["refund"]["rate"] > 0
    assert level["refund"]["created"] == 8
    contended = document["data"]["contended"]
    assert contended["created"] == 8
    assert contended["orders_exact"] == 2
    [table] = [t for t in document["tables"] if t["title"].startswith("refunds: request_refund")]
    [refund_row] = [row for row in table["rows"] if row[1] == "request_refund"]
    assert refund_row[-2] > 0  # refunds ÷ checkouts
    assert refund_row[-1] > 0  # p50 place ÷ p50 refund
