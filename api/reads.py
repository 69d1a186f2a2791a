"""Reads of the order status view: GET /payments (list), /payments/{id}, /checkouts/{id}.

Read-your-writes without asking (ADR 0011): an order or checkout the view does not hold yet
is looked up in the event store by its deterministic id, so one that exists is never a 404.
A client that passes the position a command answered with (`?min_position=N` or header
`Min-Position: N`) gets a view at least that fresh (for status changes), or a 503 problem
after a bounded wait.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from litestar.di import NamedDependency
from prometheus_client import Counter

from payments.api.parameters import (
    ID_PATTERN,
    MAX_POSITION,
    POSITION_CURSOR_PATTERN,
    MinPositionHeader,
    MinPositionQuery,
    ServicesDep,
)
from payments.api.problems import FieldProblem, ProblemError
from payments.api.refund_schemas import with_refunds
from payments.api.schemas import CheckoutResponse, PaymentOrderResponse, PaymentOrderSummary
from payments.domain.api_key import Role
from payments.domain.money import Money, format_minor
from payments.domain.payment_order import PaymentOrder
from payments.projections.catalog import LiveViews
from payments.projections.core import ProjectionView
from payments.projections.event_store import load_aggregates
from payments.projections.runner import wait_for_position
from payments.projections.views.listing import NewestFirstView
from payments.projections.views.order_status import OrderFilter, OrderKey, OrderStatus, row_of
from payments.runtime.keys import Caller
from payments.runtime.services import Services

READ_FALLBACKS = Counter(
    "payments_read_fallbacks_total",
    "Reads answered from the event store because the view did not hold the id yet (ADR 0011)",
    ["resource"],
)
for _resource in ("payment_order", "checkout"):
    READ_FALLBACKS.labels(_resource)  # exposed at 0 from the start

# How long a read waits for a view to reach the asked position before answering 503.
READ_YOUR_WRITES_TIMEOUT_SECONDS = 2.0
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
_ID = re.compile(ID_PATTERN, re.ASCII)
_POSITION = re.compile(POSITION_CURSOR_PATTERN, re.ASCII)
T = TypeVar("T")
View = TypeVar("View", bound=ProjectionView)
C = TypeVar("C")  # what a cursor decodes to


def invalid(parameter: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "validation",
        "The request is not valid",
        f"{parameter}: {message}",
        errors=[FieldProblem(field=parameter, message=message)],
    )


def parse_min_position(query: str | None, header: str | None) -> int | None:
    """The position to wait for: ?min_position= first, else the Min-Position header (both
    digit strings, checked by their declared pattern)."""
    for name, text in (("min_position", query), ("header.Min-Position", header)):
        if text is not None:
            if int(text) > MAX_POSITION:
                raise invalid(name, f"must be at most {MAX_POSITION}")
            return int(text)
    return None


def ensure_fresh(services: Services, view: ProjectionView, min_position: int | None) -> None:
    """Return once `view` has applied min_position (or the last event, if that is earlier:
    no write can have a later position); a 503 problem after a bounded wait."""
    if min_position is None or view.position() >= min_position:
        return
    head = services.application.recorder.max_notification_id() or 0
    min_position = min(min_position, head)
    if view.position() >= min_position:
        return
    if not wait_for_position(view, min_position, READ_YOUR_WRITES_TIMEOUT_SECONDS):
        raise ProblemError(
            503,
            "view-not-caught-up",
            "The view has not caught up yet",
            f"The {view.name} view has not applied event position {min_position} yet; "
            "retry shortly with the same min_position.",
            headers={"retry-after": "1"},
        )


@dataclass(frozen=True, slots=True)
class Freshness:
    """The dependency `fresh` of a read from a view: the event position its caller asked the
    view to have applied, as ?min_position= or header Min-Position (parsed when asked)."""

    services: Services
    query: str | None
    header: str | None

    def min_position(self) -> int | None:
        return parse_min_position(self.query, self.header)

    def wait(self, view: View) -> View:
        """`view`, once it has applied the position asked for (ensure_fresh)."""
        ensure_fresh(self.services, view, self.min_position())
        return view


def freshness_of(
    services: ServicesDep,
    min_position: MinPositionQuery = None,
    min_position_header: MinPositionHeader = None,
) -> Freshness:
    """Provides `fresh`; a route documents ?min_position and Min-Position where it names it."""
    return Freshness(services, min_position, min_position_header)


FreshDep = NamedDependency[Freshness]


def order_response(
    row: OrderStatus, *, ledger_updated: bool, wallet_updated: bool
) -> PaymentOrderResponse:
    return PaymentOrderResponse(
        payment_order_id=row.payment_order_id,
        checkout_id=row.checkout_id,
        seller_account=row.seller_account,
        amount=Money(row.amount_minor, row.currency).format(),
        currency=row.currency,
        status=row.status,
        ledger_updated=ledger_updated,
        wallet_updated=wallet_updated,
        attempts=row.attempts,
        psp_reference=row.psp_reference,
        failure_code=row.failure_code,
        failure_reason=row.failure_reason,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        dead_lettered=row.dead_lettered,
        created_at=row.created_at,
        updated_at=row.updated_at,
        discrepancies=row.discrepancies,
        commission=format_minor(row.commission_minor, row.currency),
        seller_net=format_minor(row.amount_minor - row.commission_minor, row.currency),
        seller_funds=seller_funds(row),
        held_for_review=row.risk_review is not None,
        review_rule=row.risk_review,
    )


def seller_funds(row: OrderStatus) -> str | None:
    """Where the seller's share of a captured order stands (ADR 0014)."""
    if row.status != "SUCCESS":
        return None
    return "pending" if row.funds_held and not row.funds_released else "available"


def order_responses(views: LiveViews, rows: list[OrderStatus]) -> list[PaymentOrderResponse]:
    """Responses whose ledger_updated/wallet_updated say whether postings and credits exist."""
    ids = [row.payment_order_id for row in rows]
    posted = views.ledger.orders_with_postings(ids) if ids else set()
    credited = views.wallets.orders_credited(ids) if ids else set()
    return [
        order_response(
            row,
            ledger_updated=row.payment_order_id in posted,
            wallet_updated=row.payment_order_id in credited,
        )
        for row in rows
    ]


def fresh_views(services: Services, min_position: int | None) -> LiveViews:
    """The live views, once the order status view has applied min_position."""
    views = LiveViews.on(services.pool)
    ensure_fresh(services, views.order_status, min_position)
    return views


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "not-found", "Not found", f"{what} not found")


def read_order(
    services: Services, payment_order_id: str, min_position: int | None
) -> PaymentOrderResponse:
    views = fresh_views(services, min_position)
    row = views.order_status.get_order(payment_order_id)
    if row is not None:
        return with_refunds(services, order_responses(views, [row])[0])
    order = services.application.get_order(payment_order_id)  # none: NotFound, a 404
    READ_FALLBACKS.labels("payment_order").inc()
    return with_refunds(services, order_response_from_events(views, order))


def order_response_from_events(views: LiveViews, order: PaymentOrder) -> PaymentOrderResponse:
    """The view's answer, from the aggregate itself; ledger_updated/wallet_updated say
    whether the ledger and wallet views hold its posting and credit (usually not yet)."""
    order_id = [order.payment_order_id]
    return order_response(
        row_of(order, position=0),
        ledger_updated=bool(views.ledger.orders_with_postings(order_id)),
        wallet_updated=bool(views.wallets.orders_credited(order_id)),
    )


def read_checkout(
    services: Services, checkout_id: str, min_position: int | None
) -> CheckoutResponse:
    views = fresh_views(services, min_position)
    row = views.order_status.get_checkout(checkout_id)
    if row is not None:
        order_ids, is_payment_done = row.payment_order_ids, row.is_payment_done
    else:
        checkout = services.application.get_checkout(checkout_id)
        READ_FALLBACKS.labels("checkout").inc()
        order_ids, is_payment_done = tuple(checkout.payment_order_ids), checkout.is_payment_done
    summaries = {
        o.payment_order_id: _summary(
            o.payment_order_id, o.seller_account, o.amount_minor, o.currency, o.status
        )
        for o in views.order_status.get_orders(order_ids)
    }
    for order_id in order_ids:
        if order_id not in summaries:
            # The checkout's orders were saved with it: the view has not applied them yet.
            order = services.application.get_order(order_id)
            READ_FALLBACKS.labels("payment_order").inc()
            summaries[order_id] = _summary(
                order_id,
                order.seller_account,
                order.amount_minor,
                order.currency,
                order.status.value,
            )
    return CheckoutResponse(
        checkout_id=checkout_id,
        is_payment_done=is_payment_done,
        position=None,
        payment_orders=[summaries[order_id] for order_id in order_ids],
    )


def _summary(
    payment_order_id: str, seller_account: str, amount_minor: int, currency: str, status: str
) -> PaymentOrderSummary:
    return PaymentOrderSummary(
        payment_order_id=payment_order_id,
        seller_account=seller_account,
        amount=format_minor(amount_minor, currency),
        currency=currency,
        status=status,
        url=f"/payments/{payment_order_id}",
    )


# --- listing -------------------------------------------------------------------------------


class PaymentOrderPage(msgspec.Struct, frozen=True):
    """GET /payments answer: newest first; pass next_cursor as ?cursor= for the next page."""

    items: list[PaymentOrderResponse]
    next_cursor: str | None


def keyset_page(found: list[T], limit: int) -> tuple[list[T], T | None]:
    """A page of what a read asked `limit + 1` of: its first `limit`, and the one the next
    page starts after (None when this page is the last)."""
    page = found[:limit]
    return page, page[-1] if len(found) > limit else None


NOT_A_CURSOR = "is not a cursor this API returned"


def seller_scope(caller: Caller, asked: str | None) -> str | None:
    """The seller a list is filtered by: for a seller key its own (asking for another's is
    Not found: another seller's data is not revealed), for the other roles what was asked."""
    if caller.role is not Role.SELLER:
        return asked
    if asked not in (None, caller.seller_account):
        raise not_found(f"seller {asked!r}")
    return caller.seller_account


def newest_page(
    services: Services,
    view: NewestFirstView,
    where: Mapping[str, str | Sequence[str] | None],
    page: tuple[int, str | None],
    uuid_of: Callable[[str], UUID],
) -> tuple[list[Any], str | None]:
    """A page of a newest-first list (GET /payouts, GET /refunds): the aggregates the view
    finds for `where`, each loaded from its events (all in one query), and the next page's
    cursor (None: the last page). `page` is (limit, cursor: the position a page ended at)."""
    limit, cursor = page
    if cursor is not None and _POSITION.fullmatch(cursor) is None:
        raise invalid("cursor", NOT_A_CURSOR)
    rows = view.newest(where, limit + 1, None if cursor is None else int(cursor))
    shown, last = keyset_page(rows, limit)
    ids = [uuid_of(row.item_id) for row in shown]
    found = load_aggregates(services.application, services.pool, ids)
    return [found[i] for i in ids], None if last is None else str(last.position)


def encode_opaque(values: list[Any]) -> str:
    """A keyset cursor: the values a page ended with, as unpadded base64url of JSON."""
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def decode_opaque(text: str, kind: type[C]) -> C:
    """The values of a cursor `encode_opaque` made, as `kind` (a tuple type); 422 otherwise."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return msgspec.json.decode(raw, type=kind)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise invalid("cursor", NOT_A_CURSOR) from None


def encode_cursor(key: OrderKey) -> str:
    return encode_opaque([key.created_at.isoformat(), key.payment_order_id])


def decode_cursor(text: str) -> OrderKey:
    created_at, payment_order_id = decode_opaque(text, tuple[datetime, str])
    if created_at.tzinfo is None or _ID.fullmatch(payment_order_id) is None:
        raise invalid("cursor", NOT_A_CURSOR)
    return OrderKey(created_at, payment_order_id)


def parse_instant(parameter: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    if _RFC3339.fullmatch(text) is None:
        raise invalid(parameter, "must be an RFC 3339 date-time, e.g. 2025-01-31T12:00:00Z")
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise invalid(parameter, "is not a valid date-time") from None


def parse_filter(
    status: str | None,
    seller_account: str | None,
    checkout_id: str | None,
    created_from: str | None,
    created_to: str | None,
) -> OrderFilter:
    """Filters as the view takes them; the parameters' patterns are checked by Litestar."""
    start = parse_instant("created_from", created_from)
    end = parse_instant("created_to", created_to)
    # created_to before created_from is an empty interval: an empty page, not an error.
    return OrderFilter(status, seller_account, checkout_id, start, end)


def list_orders(
    services: Services, where: OrderFilter, limit: int, cursor: str | None, min_position: int | None
) -> PaymentOrderPage:
    after = decode_cursor(cursor) if cursor is not None else None
    views = fresh_views(services, min_position)
    page = views.order_status.list_orders(where, limit=limit, after=after)
    return PaymentOrderPage(
        items=order_responses(views, page.items),
        next_cursor=encode_cursor(page.next_key) if page.next_key else None,
    )


LIST_DESCRIPTION = (
    "Read from the order status view. Filters: status, seller_account, checkout_id, "
    "created_from (inclusive) and created_to (exclusive) as RFC 3339 date-times. Keyset "
    "pagination: limit (1-200, default 50) and the opaque cursor from next_cursor."
)
