"""The history replay reads refunds and disputes by their stored topics (it needs no class to
decode them); once the aggregates are here, the names must be theirs."""

from __future__ import annotations

from payments.domain.dispute import Dispute
from payments.domain.refund import Refund
from payments.projections.reconciliation import history


def test_the_replay_reads_the_refunds_topics() -> None:
    events = Refund
    assert (history.REFUND_REQUESTED, history.REFUND_SUCCEEDED, history.REFUND_FAILED) == (
        events.Requested.TOPIC, events.Succeeded.TOPIC, events.Failed.TOPIC,
    )  # fmt: skip


def test_the_replay_reads_the_disputes_topics() -> None:
    events = Dispute
    assert (history.DISPUTE_OPENED, history.DISPUTE_WON, history.DISPUTE_REOPENED) == (
        events.Opened.TOPIC, events.Won.TOPIC, events.Reopened.TOPIC,
    )  # fmt: skip
