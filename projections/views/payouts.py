"""`payouts`: each payout's seller and status, for listing (GET /payouts, the console's
Payouts page): newest first by the position of its `Created` event, keyset paged, filtered by
seller and status (projections/views/listing.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments.domain.payout import Payout, PayoutStatus
from payments.projections.views.listing import NewestFirstView

PAYOUTS_NAME = "payouts"
# The events that change what a row holds, and the status each leaves the payout in.
STATUS_AFTER: dict[type[Any], PayoutStatus] = {
    Payout.ExecutionStarted: PayoutStatus.EXECUTING,
    Payout.Paid: PayoutStatus.PAID,
    Payout.Failed: PayoutStatus.FAILED,
    Payout.Returned: PayoutStatus.RETURNED,
}


@dataclass(frozen=True, slots=True)
class PayoutFilter:
    seller_account: str | None = None
    status: str | None = None


class PayoutsView(NewestFirstView):
    name = PAYOUTS_NAME
    topics: frozenset[str] | None = NewestFirstView.topics_of(Payout.Created, STATUS_AFTER)
    tables = ("payouts", "payouts_tracking")
    table, uuid_column, id_column = "payouts", "payout_uuid", "payout_id"
    filter_columns = ("seller_account",)
    created, first_status, status_after = Payout.Created, PayoutStatus.REQUESTED, STATUS_AFTER
