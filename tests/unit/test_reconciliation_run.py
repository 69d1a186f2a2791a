"""ReconciliationRun, given-when-then: findings in, decisions recorded once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from payments.domain.errors import IllegalTransition, InvalidCommand, NotFound
from payments.domain.reconciliation_run import (
    AMOUNT_MISMATCH,
    AUTO_FIX,
    AWAITING_SETTLEMENT,
    INFO,
    OPEN,
    STATUS_MISMATCH,
    Finding,
    ReconciliationRun,
    reconciliation_run_uuid,
)


def a_run() -> ReconciliationRun:
    run = ReconciliationRun(
        file_sha256="ab" * 32,
        file_format="adyen_settlement_details",
        currency="USD",
        period_start="2030-01-01",
        period_end="2030-01-01",
        as_of=datetime(2030, 1, 2, tzinfo=UTC),
        window_days=3,
        through_position=10,
    )
    run.record_findings(
        [
            Finding("line-2", AMOUNT_MISMATCH, OPEN, line=2, psp_minor=101, expected_minor=100),
            Finding(
                "line-3",
                STATUS_MISMATCH,
                AUTO_FIX,
                line=3,
                payment_order_id="o3",
                psp_reference="ch_3",
            ),
            Finding("order-o4", AWAITING_SETTLEMENT, INFO, payment_order_id="o4"),
        ]
    )
    return run


def test_the_run_id_is_derived_from_the_file_hash() -> None:
    run = a_run()
    assert run.id == reconciliation_run_uuid("ab" * 32)
    assert reconciliation_run_uuid("cd" * 32) != run.id


def test_an_open_exception_is_resolved_once() -> None:
    run = a_run()
    run.resolve("line-2", "write_off", "rounding")
    assert run.state_of("line-2") == "resolved"
    assert type(run.collect_events()[-1]).__name__ == "ExceptionResolved"
    with pytest.raises(IllegalTransition):
        run.resolve("line-2", "accept_psp", "again")


@pytest.mark.parametrize("finding_id", ["line-3", "order-o4"])
def test_only_open_exceptions_can_be_resolved(finding_id: str) -> None:
    with pytest.raises(IllegalTransition):
        a_run().resolve(finding_id, "investigated", "not an exception")


def test_resolving_needs_a_known_finding_a_known_action_and_a_reason() -> None:
    run = a_run()
    with pytest.raises(NotFound):
        run.resolve("line-99", "write_off", "x")
    with pytest.raises(InvalidCommand):
        run.resolve("line-2", "shrug", "x")
    with pytest.raises(InvalidCommand):
        run.resolve("line-2", "write_off", "  ")


def test_an_auto_fix_is_recorded_once_and_only_for_safe_findings() -> None:
    run = a_run()
    assert [f.finding_id for f in run.pending_auto_fixes()] == ["line-3"]
    run.confirm_auto_fix("line-3", "ch_3", 0, "recorded_success")
    assert run.pending_auto_fixes() == []
    assert run.state_of("line-3") == "auto_fixed"
    with pytest.raises(IllegalTransition):
        run.confirm_auto_fix("line-3", "ch_3", 0, "recorded_success")
    with pytest.raises(IllegalTransition):
        run.confirm_auto_fix("line-2", "ch_2", 0, "recorded_success")


def test_a_completed_run_takes_no_more_results() -> None:
    run = a_run()
    run.complete(lines=3, batches=[])
    with pytest.raises(IllegalTransition):
        run.record_chunk(0, 2, 3, 1, 100, 90)


def test_a_finding_id_is_recorded_once() -> None:
    run = a_run()
    with pytest.raises(IllegalTransition):
        run.record_findings([Finding("line-2", AMOUNT_MISMATCH, OPEN, line=2)])
