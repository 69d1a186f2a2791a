"""The execution events PaymentOrder, Refund and Payout share keep their stored meaning: each
aggregate writes them under its own topics with the same fields as ever, and events stored
before (a replay recorded before it named its actor) load into the same state."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from payments.domain.application import PaymentsApplication
from payments.domain.execution import Declined, FailureCode
from payments.domain.execution_commands import Executable
from payments.domain.payout import Payout
from payments.domain.refund import Refund
from tests.projections.events import new_order
from tests.unit.apps import make_app

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
STORED_NOW = {"_type_": "datetime_iso", "_data_": "2026-12-04T12:00:00+00:00"}


def shared(reference: str, versioned_replay: bool) -> list[tuple[str, dict[str, Any]]]:
    """What every executed aggregate stores for: two attempts retried, a dead letter, an
    operator's replay, a third attempt left pending at the PSP."""
    replayed = {"reason": "psp is back", "actor": "key_ops", "reference": reference}
    return [
        ("ExecutionStarted", {"attempt": 1}),
        ("RetryScheduled", {"attempt": 1, "error": "timeout", "next_attempt_at": STORED_NOW}),
        ("ExecutionStarted", {"attempt": 2}),
        ("RetryScheduled", {"attempt": 2, "error": "late", "next_attempt_at": STORED_NOW}),
        ("DeadLettered", {"attempts": 2, "last_error": "late"}),
        ("DeadLetterReplayed", replayed | ({"class_version": 2} if versioned_replay else {})),
        ("ExecutionStarted", {"attempt": 3}),
        ("PendingAtPsp", {"psp_reference": "psp_1"}),
    ]


def contradicted(noun: str, status: str) -> tuple[str, dict[str, Any]]:
    """A failure reported after the success: kept as a discrepancy, never applied."""
    detail = f"{noun} is {status} with psp_reference psp_1"
    return "DiscrepancyRecorded", {
        "reported_outcome": "FAILED",
        "psp_reference": "psp_2",
        "detail": detail,
    }


@dataclass(frozen=True)
class Case:
    new: Callable[[], Executable]
    succeed: Callable[[Any], bool]
    contradict: Callable[[Any], bool]
    stored: list[tuple[str, dict[str, Any]]]  # (event name, stored fields), after Created
    status: str


ORDER = Case(
    new=lambda: new_order("po_1"),
    succeed=lambda order: order.record_success("psp_1", "webhook"),
    contradict=lambda order: order.record_failure(
        FailureCode.CARD_DECLINED, "no", "psp_2", "webhook"
    ),
    stored=[
        *shared("po_1", versioned_replay=True),
        ("Succeeded", {"psp_reference": "psp_1", "source": "webhook"}),
        # An order's discrepancy has always called it "aggregate" (it sets no NOUN).
        contradicted("aggregate", "SUCCESS"),
    ],
    status="SUCCESS",
)
REFUND = Case(
    new=lambda: Refund(
        refund_id="re_1",
        payment_order_id="po_1",
        order_uuid=None,
        seller_account="acme",
        amount_minor=300,
        currency="USD",
        seller_share_minor=300,
        platform_share_minor=0,
        reason=None,
        charge_reference="psp_1",
        requested_by="key_1",
    ),
    succeed=lambda refund: refund.record_success("psp_1", "webhook"),
    contradict=lambda refund: refund.record_failure(FailureCode.REJECTED, "no", "psp_2", "psp"),
    stored=[
        *shared("re_1", versioned_replay=False),
        (
            "Succeeded",
            {
                "psp_reference": "psp_1",
                "source": "webhook",
                "payment_order_id": "po_1",
                "seller_account": "acme",
                "amount_minor": 300,
                "currency": "USD",
                "seller_share_minor": 300,
                "platform_share_minor": 0,
            },
        ),
        contradicted("refund", "SUCCEEDED"),
    ],
    status="SUCCEEDED",
)
PAYOUT = Case(
    new=lambda: Payout(
        payout_id="out_1",
        seller_account="acme",
        amount_minor=500,
        currency="USD",
        destination="acme",
        run_id=None,
        requested_by="key_1",
    ),
    succeed=lambda payout: payout.record_paid("psp_1", "webhook"),
    contradict=lambda payout: payout.record_failure("closed", "psp_2", "psp"),
    stored=[
        *shared("out_1", versioned_replay=True),
        (
            "Paid",
            {
                "psp_reference": "psp_1",
                "source": "webhook",
                "seller_account": "acme",
                "amount_minor": 500,
                "currency": "USD",
            },
        ),
        contradicted("payout", "PAID"),
    ],
    status="PAID",
)
CASES = pytest.mark.parametrize("case", [ORDER, REFUND, PAYOUT], ids=["order", "refund", "payout"])


def executed(case: Case) -> Executable:
    aggregate = case.new()
    aggregate.start_execution()
    aggregate.schedule_retry("timeout", NOW)
    aggregate.start_execution()
    aggregate.schedule_retry("late", NOW)
    aggregate.dead_letter()
    aggregate.replay_dead_letter("psp is back", "key_ops")
    aggregate.start_execution()
    aggregate.mark_pending("psp_1")
    assert case.succeed(aggregate)
    assert not case.contradict(aggregate)
    return aggregate


def as_stored(app: PaymentsApplication, aggregate: Executable) -> list[tuple[str, dict[str, Any]]]:
    """The aggregate's stored events after its first (name, fields without the timestamp)."""
    prefix = f"payments.{type(aggregate).__name__}."
    found = []
    for event in app.recorder.select_events(aggregate.id)[1:]:
        assert event.topic.startswith(prefix), event.topic
        assert event.topic.endswith(".v1"), event.topic
        fields = json.loads(event.state)
        del fields["timestamp"]
        found.append((event.topic.removeprefix(prefix).removesuffix(".v1"), fields))
    return found


def make_app_with(aggregate: Executable) -> PaymentsApplication:
    app = make_app()
    app.save(aggregate)
    return app


@CASES
def test_each_aggregate_stores_the_shared_events_under_its_topics_with_the_same_fields(
    case: Case,
) -> None:
    aggregate = executed(case)
    assert as_stored(make_app_with(aggregate), aggregate) == case.stored


@CASES
def test_events_stored_before_load_into_the_same_state(case: Case) -> None:
    """A replay stored before v2 (no actor, no reference, no class_version) where the
    aggregate upcasts it; the refund's replay had its actor from the start."""
    written = executed(case)
    app = make_app()
    created = make_app_with(written).recorder.select_events(written.id)[0]
    rows = [created]
    for version, (name, fields) in enumerate(case.stored, start=2):
        if name == "DeadLetterReplayed" and "class_version" in fields:
            fields = {"reason": fields["reason"]}
        state = json.dumps({"timestamp": STORED_NOW, **fields}).encode()
        topic = f"payments.{type(written).__name__}.{name}.v1"
        rows.append(StoredEvent(written.id, version, topic, state))
    app.recorder.insert_events(rows)

    loaded: Executable = app.repository.get(written.id)
    assert (
        loaded.status.value,
        loaded.attempts,
        loaded.attempts_since_replay,
        loaded.last_error,
        loaded.psp_reference,
        loaded.pending_at_psp,
        loaded.dead_lettered,
        loaded.discrepancies,
        loaded.next_attempt_at,
    ) == (case.status, 3, 1, "late", "psp_1", False, False, 1, None)
    replay: Any = next(
        e for e in app.events.get(written.id) if type(e).__name__ == "DeadLetterReplayed"
    )
    upcast = case is not REFUND
    expected_actor = "unknown" if upcast else "key_ops"
    assert (replay.actor, replay.reason) == (expected_actor, "psp is back")


@pytest.mark.parametrize("case", [ORDER, REFUND], ids=["order", "refund"])
def test_a_final_refusal_is_stored_with_its_code_and_loads_as_failed(case: Case) -> None:
    aggregate = case.new()
    aggregate.start_execution()
    assert aggregate.record_final_answer(
        Declined(FailureCode.INSUFFICIENT_FUNDS, "no funds", "psp_9"), source="psp"
    )
    assert not aggregate.record_final_answer(
        Declined(FailureCode.INSUFFICIENT_FUNDS, "no funds", "psp_9"), source="webhook"
    )
    app = make_app_with(aggregate)
    assert as_stored(app, aggregate) == [
        ("ExecutionStarted", {"attempt": 1}),
        (
            "Failed",
            {
                "code": {"_type_": "payments.FailureCode", "_data_": "insufficient_funds"},
                "reason": "no funds",
                "psp_reference": "psp_9",
                "source": "psp",
            },
        ),
    ]
    loaded: Any = app.repository.get(aggregate.id)
    assert (loaded.status.value, loaded.failure_code, loaded.failure_reason) == (
        "FAILED",
        FailureCode.INSUFFICIENT_FUNDS,
        "no funds",
    )
    assert (loaded.psp_reference, loaded.is_terminal, loaded.needs_executor) == (
        "psp_9",
        True,
        False,
    )
