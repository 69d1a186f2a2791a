"""Path, query and header parameters shared by the routes, declared as the code enforces them
(and the two dependencies the routes are given: ServicesDep, CallerDep).

Litestar validates each declaration (type, pattern, length, range) before a handler runs and
writes the same constraints into the OpenAPI document, so the document cannot promise more
or less than the code accepts. A parameter that breaks one answers a 422 problem naming it.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from payments.domain.dispute import DisputeStatus
from payments.domain.payment_order import Status
from payments.domain.payout import PayoutStatus
from payments.runtime.keys import Caller
from payments.runtime.services import Services

# The two dependencies api/app.py provides to every route: the services, and who calls.
# (It also provides `once`, api/idempotency.py, and `fresh`, api/reads.py: a route that names
# one of them documents the header or query parameters that dependency reads.)
ServicesDep = NamedDependency[Services]
CallerDep = NamedDependency[Caller]

ID_PATTERN = r"^[A-Za-z0-9_-]+$"
ID_MAX_LENGTH = 64
# Event positions are PostgreSQL bigints.
MAX_POSITION = 2**63 - 1
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# An Idempotency-Key: 1-255 printable ASCII characters (no leading or trailing space, which
# HTTP would strip anyway).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
# Cursors are unpadded base64url of what this API wrote.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,400}$"
# Ledger accounts: a name, or a name with a seller and an optional sub-account.
ACCOUNT_PATTERN = r"^[a-z_]{1,32}(:[A-Za-z0-9_-]{1,64}(:[a-z_]{1,16})?)?$"
DATE_TIME = {"format": "date-time"}


def business_id(what: str, example: str) -> Any:
    """A path parameter holding one of our business ids (the same rule as in bodies)."""
    return PathParameter(
        pattern=ID_PATTERN,
        min_length=1,
        max_length=ID_MAX_LENGTH,
        description=f"The {what}: 1-{ID_MAX_LENGTH} ASCII letters, digits, '_' or '-'.",
        examples=[Example(value=example)],
    )


PaymentOrderIdPath = Annotated[str, business_id("payment order id", "po_readme_1_a")]
CheckoutIdPath = Annotated[str, business_id("checkout id", "co_readme_1")]
SellerAccountPath = Annotated[str, business_id("seller account", "seller_a")]
PayoutIdPath = Annotated[str, business_id("payout id", "payout_req_0123456789abcdef01234567")]
RefundIdPath = Annotated[str, business_id("refund id", "re_0123456789abcdef01234567")]
UuidPath = Annotated[
    str,
    PathParameter(
        pattern=UUID_PATTERN,
        min_length=36,
        max_length=36,
        description="A UUID this API returned.",
        schema_extra={"format": "uuid"},
    ),
]
AccountPath = Annotated[
    str,
    PathParameter(
        pattern=ACCOUNT_PATTERN,
        max_length=120,
        description="A ledger account: psp_receivable, payouts_in_transit, psp_fees, "
        "seller:{seller_account}, seller:{seller_account}:pending, ...",
        examples=[Example(value="psp_receivable"), Example(value="seller:seller_a")],
    ),
]

# Integers in the query and headers are read as digit strings: Litestar's lax conversion
# would take the text "null" for "absent".
_POSITION = {"type": "integer", "minimum": 0, "maximum": MAX_POSITION}
POSITION_PATTERN = r"^[0-9]{1,19}$"
MinPositionQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=POSITION_PATTERN,
        description="Wait (at most 2 s, then 503) until the view has applied this event position "
        "(the `position` / `event-position` a command answered with), or the last event if "
        "no event has that position yet.",
        schema_extra=_POSITION,
    ),
]
MinPositionHeader = Annotated[
    str | None,
    HeaderParameter(
        name="Min-Position",
        required=False,
        pattern=POSITION_PATTERN,
        description="Same as ?min_position.",
        schema_extra=_POSITION,
    ),
]
AsOfQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=40,
        description="Answer as of this instant (RFC 3339 with offset, not in the future): every "
        "event recorded at or before it, replayed in log order. 422 for a future instant.",
        schema_extra=DATE_TIME,
        examples=[Example(value="2026-01-31T12:00:00Z")],
    ),
]
LimitQuery = Annotated[int, QueryParameter(ge=1, le=200, description="Page size.")]
CursorQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=CURSOR_PATTERN,
        description="The next_cursor of the previous page (opaque); 422 for any other value.",
    ),
]

# A list keyed by log position (GET /payouts): any such cursor is a valid place to go on from.
POSITION_CURSOR_PATTERN = r"^[0-9]{1,18}$"
PositionCursorQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=POSITION_CURSOR_PATTERN,
        description="The next_cursor of the previous page (opaque).",
    ),
]


def one_of(kind: type[Enum], description: str) -> QueryParameter:
    """A query parameter that is one of an enum's values (422 otherwise), listed in OpenAPI."""
    values = [member.value for member in kind]
    return QueryParameter(
        pattern=f"^({'|'.join(values)})$", description=description, schema_extra={"enum": values}
    )


StatusQuery = Annotated[str | None, one_of(Status, "Only orders in this status.")]
PayoutStatusQuery = Annotated[str | None, one_of(PayoutStatus, "Only payouts in this status.")]
DisputeStatusQuery = Annotated[str | None, one_of(DisputeStatus, "Only disputes in this status.")]
IdQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=ID_PATTERN,
        min_length=1,
        max_length=ID_MAX_LENGTH,
        description=f"1-{ID_MAX_LENGTH} ASCII letters, digits, '_' or '-'.",
    ),
]
InstantQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=40, description="RFC 3339 date-time with offset.", schema_extra=DATE_TIME
    ),
]
IdempotencyKeyHeader = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        min_length=1,
        max_length=255,
        description="Unique per operation (e.g. a UUID); retry with the same key to get the "
        "same answer. Missing or invalid: 400.",
        examples=[Example(value="3f0e8a52-6d0c-4a43-9a51-2b1a4f0c9e77")],
    ),
]
