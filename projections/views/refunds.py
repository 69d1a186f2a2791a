"""`refunds`: each refund's order, seller and status, for listing (GET /refunds, the
console's Refunds page): newest first by the position of its `Requested` event, keyset paged,
filtered by order, seller and status (projections/views/listing.py)."""

from __future__ import annotations

from typing import Any

from payments.domain.refund import Refund, RefundStatus
from payments.projections.views.listing import NewestFirstView

REFUNDS_NAME = "refunds"
# The events that change what a row holds, and the status each leaves the refund in.
STATUS_AFTER: dict[type[Any], RefundStatus] = {
    Refund.ExecutionStarted: RefundStatus.EXECUTING,
    Refund.Succeeded: RefundStatus.SUCCEEDED,
    Refund.Failed: RefundStatus.FAILED,
}


class RefundsView(NewestFirstView):
    name = REFUNDS_NAME
    topics: frozenset[str] | None = NewestFirstView.topics_of(Refund.Requested, STATUS_AFTER)
    tables = ("refunds", "refunds_tracking")
    table, uuid_column, id_column = "refunds", "refund_uuid", "refund_id"
    filter_columns = ("payment_order_id", "seller_account")
    created, first_status, status_after = Refund.Requested, RefundStatus.REQUESTED, STATUS_AFTER
