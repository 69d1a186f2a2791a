"""Orders: search by id, checkout, seller, status, date and amount, newest first, keyset
paging; as of a past instant, each order as it stood then (absent if it did not exist)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote, urlencode

from litestar import get
from litestar.response import Redirect, Template

from payments.api.console.pages import (
    CallerDep,
    Field,
    Page,
    ServicesDep,
    as_of_of,
    chosen,
    given,
    next_page,
    render,
)
from payments.api.parameters import ID_PATTERN
from payments.api.reads import invalid, list_orders, order_response
from payments.api.schemas import PaymentOrderResponse
from payments.domain.api_key import Role
from payments.domain.money import Money, MoneyError
from payments.projections.audit.as_of import order_as_of
from payments.projections.views.order_status import OrderFilter
from payments.runtime.keys import Caller
from payments.runtime.services import Services

PAGE = Page.of("/console/orders", "Orders", Role.MERCHANT, Role.OPERATOR, Role.FINANCE)
PAGE_SIZE = 50
STATUSES = ("NOT_STARTED", "EXECUTING", "SUCCESS", "FAILED")
_ID = re.compile(ID_PATTERN, re.ASCII)
FIELDS = ("order_id", "checkout", "seller", "status", "date_from", "date_to")
AMOUNTS = ("amount_from", "amount_to")


def order_path(payment_order_id: str, as_of: datetime | None = None) -> str:
    path = f"{PAGE.path}/{quote(payment_order_id)}"
    return f"{path}?{urlencode({'as_of': as_of.isoformat()})}" if as_of else path


def order_links(caller: Caller, orders: Mapping[str, str]) -> dict[str, str]:
    """Links to order pages, by what names each order (a dispute, a refund: item id → order
    id), for a caller who may open them; a seller key opens none (its orders are shown, not
    linked)."""
    if not PAGE.offered_to(caller):
        return {}
    return {item: order_path(order) for item, order in orders.items()}


def id_field(name: str, text: str | None) -> str | None:
    if not text:
        return None
    if _ID.fullmatch(text) is None:
        raise invalid(name, "must be an id: letters, digits, '_' and '-', up to 64")
    return text


def _day(name: str, text: str | None, after: bool = False) -> datetime | None:
    """A date (YYYY-MM-DD, UTC) as the instant its day starts (or the next day starts)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise invalid(name, "must be a date, YYYY-MM-DD") from None
    return datetime.combine(day + timedelta(days=1 if after else 0), time(), UTC)


def _amount(name: str, text: str | None, currency: str) -> int | None:
    if not text:
        return None
    try:
        return Money.parse(text, currency).minor
    except MoneyError as error:
        raise invalid(name, str(error)) from None


def search_filter(
    query: dict[str, str | None], currency: str, as_of: datetime | None
) -> OrderFilter:
    """The form's fields as the view's filter; as of an instant, only orders created by then
    (their status then is decided after the replay, not by the view's current status)."""
    status = chosen("status", query["status"], STATUSES)
    created_to = _day("date_to", query["date_to"], after=True)
    if as_of is not None:
        just_after = as_of + timedelta(microseconds=1)
        created_to = min(created_to, just_after) if created_to else just_after
    return OrderFilter(
        status=None if as_of else status,
        seller_account=id_field("seller", query["seller"]),
        checkout_id=id_field("checkout", query["checkout"]),
        created_from=_day("date_from", query["date_from"]),
        created_to=created_to,
        amount_from_minor=_amount("amount_from", query["amount_from"], currency),
        amount_to_minor=_amount("amount_to", query["amount_to"], currency),
    )


def as_they_were(
    services: Services, items: list[PaymentOrderResponse], as_of: datetime, status: str | None
) -> list[PaymentOrderResponse]:
    """Each order replayed to `as_of` (ADR 0007), those with the status asked for."""
    past = []
    for item in items:
        found = order_as_of(services.pool, services.application, item.payment_order_id, as_of)
        if found is None:
            continue
        row = order_response(
            found.row, ledger_updated=found.ledger_updated, wallet_updated=found.wallet_updated
        )
        if status is None or row.status == status:
            past.append(row)
    return past


@get("/orders", sync_to_thread=True, **PAGE.access)
def orders(
    caller: CallerDep,
    services: ServicesDep,
    order_id: Field = None,
    checkout: Field = None,
    seller: Field = None,
    status: Field = None,
    date_from: Field = None,
    date_to: Field = None,
    amount_from: Field = None,
    amount_to: Field = None,
    cursor: Field = None,
    as_of: Field = None,
) -> Template | Redirect:
    instant = as_of_of(as_of)
    if wanted := id_field("order_id", order_id):
        return Redirect(order_path(wanted, instant), status_code=303)
    query = {
        "order_id": None, "checkout": checkout, "seller": seller, "status": status,
        "date_from": date_from, "date_to": date_to, "amount_from": amount_from,
        "amount_to": amount_to,
    }  # fmt: skip
    where = search_filter(query, services.settings.currency, instant)
    found = list_orders(services, where, PAGE_SIZE, cursor or None, None)
    items = found.items
    if instant is not None:
        items = as_they_were(services, items, instant, status or None)
    kept = given(**query)
    if instant is not None:
        kept["as_of"] = instant.isoformat()
    return render(
        "orders.html",
        caller,
        PAGE,
        as_of=instant,
        query=query,
        statuses=STATUSES,
        items=items,
        links={i.payment_order_id: order_path(i.payment_order_id, instant) for i in items},
        more=next_page(kept, "cursor", found.next_cursor),
        first_page=cursor is None,
    )


HANDLERS = [orders]
