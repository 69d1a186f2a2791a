"""Verify names a view row changed behind the system's back; the journal export is
byte-identical for the same inputs and refuses unusable periods."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from payments.bench.history import make_history
from payments.cli.main import main
from payments.projections.audit.journal_export import COLUMNS
from payments.projections.audit.verify import verify_projection
from payments.projections.catalog import NAMES
from payments.projections.pg import fetch_all
from payments.projections.rebuild import SCRATCH_PREFIX, drop_scratch, empty_scratch_view
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services
from tests.audit.conftest import sql, tell_story
from tests.projections.conftest import catch_up_all


def cli(services: Services, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["audit", *args], env={"PAYMENTS_DATABASE_URL": services.database_url}
    )
    return result.exit_code, result.output


def test_verify_finds_nothing_on_a_sound_history_and_names_a_tampered_row(
    services: Services,
) -> None:
    make_history(services.application, 120, seed=7)
    story = tell_story(services)
    catch_up_all(services)
    source = ApplicationEventSource(services.application)
    results = [verify_projection(services.pool, source, name) for name in NAMES]
    assert all(r.identical for r in results), results
    assert all(r.rows_compared > 0 for r in results)
    sql(
        services.pool,
        "UPDATE order_status SET status = 'FAILED' WHERE payment_order_id = %s",
        story.order_a,
    )
    sql(services.pool, "UPDATE seller_balances SET available_minor = available_minor + 1")
    code, output = cli(services, "verify", "--json")
    assert code == 1, output
    report = {r["name"]: r for r in json.loads(output[output.index("[") :])}
    orders = next(t for t in report["order_status"]["tables"] if t["table"] == "order_status")
    assert (orders["only_live"], orders["only_rebuilt"]) == (1, 1)
    difference = orders["first_differences"][0]
    assert difference["live"]["payment_order_id"] == story.order_a
    assert difference["changed_columns"] == ["status"]
    assert (difference["live"]["status"], difference["rebuilt"]["status"]) == ("FAILED", "SUCCESS")
    assert report["wallets"]["rows_differing"] > 0
    assert report["ledger"]["identical"]
    code, text = cli(services, "verify", "order_status")
    assert code == 1
    assert story.order_a in text
    assert "status: live 'FAILED', history says 'SUCCESS'" in text


def test_the_journal_export_is_byte_identical_and_complete(
    services: Services, tmp_path: Path
) -> None:
    start = datetime.now(UTC)
    story = tell_story(services)
    make_history(services.application, 40, seed=3)
    end = datetime.now(UTC)
    period = ["--from", start.isoformat(), "--to", end.isoformat()]
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert cli(services, "export", *period, "--out", str(first))[0] == 0  # views lag: tail
    catch_up_all(services)
    assert cli(services, "export", *period, "--out", str(second))[0] == 0  # views caught up
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    row = dict(zip(COLUMNS, lines[1].split(","), strict=True))
    assert row["payment_order_id"] == story.order_a
    assert (row["account"], row["debit"], row["credit"]) == ("psp_receivable", "25.00", "0.00")
    assert row["event_topic"] == "payments.PaymentOrder.Succeeded.v1"
    code, out = cli(services, "export", *period, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["entry_count"] == len(lines) - 1
    totals = document["totals"]["USD"]
    assert totals["debit_minor"] == totals["credit_minor"] > 0
    assert cli(services, "export", *period, "--format", "json")[1] == out


def test_export_and_replay_refuse_unusable_instants(services: Services) -> None:
    now = datetime.now(UTC).isoformat()
    for args, expected in (
        (["export", "--from", "2025-01-01T00:00:00", "--to", now], "no UTC offset"),
        (["export", "--from", now, "--to", "2025-01-01T00:00:00Z"], "must be after --from"),
        (["export", "--from", "x", "--to", now], "RFC 3339"),
        (["export", "--from", now, "--to", "2999-01-01T00:00:00Z"], "future"),
        (["replay", "--as-of", "2025-01-01"], "RFC 3339"),
    ):
        code, output = cli(services, *args)
        assert code == 2, (args, output)
        assert expected in output


def test_replay_prints_an_order_and_accounts_as_of_an_instant(services: Services) -> None:
    story = tell_story(services)
    code, out = cli(
        services, "replay", "--as-of", story.started.isoformat(), "--order", story.order_a
    )
    assert code == 0, out
    assert json.loads(out)["order"]["status"] == "EXECUTING"
    code, out = cli(
        services, "replay", "--as-of", story.paid.isoformat(), "--account", "psp_receivable"
    )
    assert json.loads(out)["account"]["balance"] == "25.00"
    code, out = cli(services, "replay", "--as-of", story.paid.isoformat(), "--wallet", "seller_a")
    assert json.loads(out)["wallet"]["pending"] == "25.00"
    assert json.loads(out)["wallet"]["balance"] == "25.00"
    code, out = cli(services, "replay", "--as-of", story.paid.isoformat())
    assert json.loads(out)["trial_balance"]["balanced"] is True
    code, out = cli(
        services, "replay", "--as-of", story.before.isoformat(), "--order", story.order_a
    )
    assert code == 1
    assert "not found" in out


def test_a_verification_copy_is_unlogged_and_a_rebuild_copy_is_not(services: Services) -> None:
    """Verify's scratch copy is compared and dropped: no WAL for its rows. A rebuild's copy
    becomes the live view, so it stays crash-safe."""

    def persistence(name: str) -> set[str]:
        rows = fetch_all(
            services.pool,
            "SELECT DISTINCT c.relpersistence FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'i')",
            (SCRATCH_PREFIX + name,),
        )
        return {row[0] for row in rows}

    for name in NAMES:
        try:
            empty_scratch_view(services.pool, name, unlogged=True)
            assert persistence(name) == {"u"}, name
            empty_scratch_view(services.pool, name)
            assert persistence(name) == {"p"}, name
        finally:
            drop_scratch(services.pool, name)
