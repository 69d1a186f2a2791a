"""Evidence after the PSP's deadline: refused before anything goes to the PSP; the PSP then
decides the unanswered dispute against us. A sandbox whose disputes await evidence 2 s."""

from __future__ import annotations

import time

from tests.disputes.test_dispute_flows import (
    admin_dispute,
    captured_order,
    dispute_events,
    dispute_shown,
    evidence,
)
from tests.executor.conftest import Stack

EVIDENCE_WINDOW_S = 2.0


def test_evidence_after_the_deadline_is_refused_before_the_psp(stack: Stack) -> None:
    order_id = captured_order(stack)
    dispute_id = admin_dispute(stack, order_id)
    dispute_shown(stack, order_id)
    due = stack.services.disputes.dispute_of_order(order_id).evidence_due_by
    time.sleep(max(0.0, (due.timestamp() - time.time())) + 0.2)
    answer = evidence(stack, order_id, "winning_evidence: late")
    assert answer.status_code == 409, answer.text
    assert answer.json()["type"].endswith("/evidence-too-late")
    assert "EvidenceSubmitted" not in dispute_events(stack, dispute_id)
    # Unanswered by the deadline, the PSP decides against us (dispute.lost, confirmed).
    assert dispute_shown(stack, order_id, "lost")["evidence_submitted_at"] is None
