"""POST /payments, GET /payments (list), /payments/{payment_order_id}, /checkouts/{checkout_id}."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody

from payments.api.as_of import parse_as_of, read_order_as_of
from payments.api.auth import access
from payments.api.dispute_reads import with_dispute
from payments.api.idempotency import OnceDep, fingerprint, require_key, stored_answer
from payments.api.openapi import (
    created_or_existing,
    created_or_replayed,
    header,
    link,
    spec,
    write_headers,
)
from payments.api.parameters import (
    AsOfQuery,
    CheckoutIdPath,
    CursorQuery,
    IdQuery,
    InstantQuery,
    LimitQuery,
    PaymentOrderIdPath,
    ServicesDep,
    StatusQuery,
)
from payments.api.problems import ProblemError
from payments.api.reads import (
    LIST_DESCRIPTION,
    FreshDep,
    PaymentOrderPage,
    list_orders,
    parse_filter,
    read_checkout,
    read_order,
)
from payments.api.schemas import (
    CheckoutRequest,
    CheckoutResponse,
    PaymentOrderResponse,
    PaymentOrderSummary,
)
from payments.domain.api_key import Role
from payments.domain.application import OrderLine, PlaceCheckout, Placement
from payments.domain.checkout import Checkout
from payments.domain.errors import FieldError, InvalidCommand
from payments.domain.execution import FailureCode
from payments.domain.money import Money, MoneyError
from payments.domain.payment_order import PaymentOrder
from payments.domain.place_checkout import PlacementAnswer
from payments.runtime.idempotency import AnswerWithEvents, StoredResponse
from payments.runtime.services import Services

MAX_BODY_BYTES = 64 * 1024
CREATE_SCOPE = "POST /payments"
JSON_MEDIA_TYPES = ("application/json",)


async def guard_checkout_body(request: Request[Any, Any, Any]) -> None:
    """Before Litestar parses the body: a key, the right media type, no raw card data."""
    require_key(request.headers.get("idempotency-key"))
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
        raise ProblemError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send the body as application/json, not {media_type or 'no content type'}",
        )
    await request.json()  # decoded once, bounded, card data refused (api/edge.py), reused


def to_command(data: CheckoutRequest, currency: str) -> PlaceCheckout:
    """Turn the strict body into a domain command; amounts become integer minor units."""
    errors: list[FieldError] = []
    lines: list[OrderLine] = []
    for index, order in enumerate(data.payment_orders):
        path = f"payment_orders[{index}]"
        if order.currency != currency:
            errors.append(
                FieldError(f"{path}.currency", f"this deployment accepts {currency} only")
            )
        try:
            amount = Money.parse(order.amount, currency)
        except MoneyError as error:
            errors.append(FieldError(f"{path}.amount", str(error)))
            continue
        lines.append(OrderLine(order.payment_order_id, order.seller_account, amount))
    if errors:
        raise InvalidCommand(errors)
    card = data.credit_card_info
    details = {
        name: value
        for name in ("brand", "last4", "exp_month", "exp_year", "fingerprint")
        if (value := getattr(card, name)) is not None
    }
    return PlaceCheckout(
        checkout_id=data.checkout_id,
        buyer_info=data.buyer_info,
        card_token=card.token,
        card_details=details,
        orders=tuple(lines),
    )


def place_checkout(
    services: Services, command: PlaceCheckout, answer: PlacementAnswer | None = None
) -> Placement:
    """Place it unless the seller policy refuses a seller (PAYMENTS_UNVERIFIED_SELLERS,
    PAYMENTS_SUSPENDED_SELLERS): then a 422 naming each refused order, nothing written.
    `answer`: stored with the events of a new placement (PaymentsApplication.place_checkout)."""
    refused = services.sellers.charge_refusals(
        (f"payment_orders[{i}].seller_account", line.seller_account, line.payment_order_id)
        for i, line in enumerate(command.orders)
    )
    if refused:
        raise InvalidCommand(refused)
    return services.risk.place(command, datetime.now(UTC), answer)


def order_url(payment_order_id: str) -> str:
    return f"/payments/{payment_order_id}"


def checkout_body(
    checkout: Checkout, orders: list[PaymentOrder], position: int | None
) -> CheckoutResponse:
    return CheckoutResponse(
        checkout_id=checkout.checkout_id,
        is_payment_done=checkout.is_payment_done,
        position=position,
        payment_orders=[
            PaymentOrderSummary(
                payment_order_id=o.payment_order_id,
                seller_account=o.seller_account,
                amount=o.amount.format(),
                currency=o.currency,
                status=o.status.value,
                url=order_url(o.payment_order_id),
                **risk_of(o),
            )
            for o in orders
        ],
    )


def risk_of(order: PaymentOrder) -> dict[str, str | None]:
    """The risk rules' hold on an order, as the checkout answer says it."""
    if order.risk_review is not None:
        return {"risk": "review", "risk_rule": order.risk_review}
    if order.failure_code is FailureCode.BLOCKED_BY_RISK:
        return {"risk": "decline", "risk_rule": order.risk_rule}
    return {}


def _placement_response(placement: Placement) -> StoredResponse:
    """The answer to POST /payments, as stored and replayed."""
    checkout, position = placement.checkout, placement.position
    return stored_answer(
        201 if placement.created else 200,
        checkout_body(checkout, placement.orders, position),
        f"/checkouts/{checkout.checkout_id}",
        position,
    )


def _positioned_response(placement: Placement, position: int) -> StoredResponse:
    """The answer to a new placement, at the position its save's events were given."""
    return _placement_response(replace(placement, position=position))


_CREATED_HEADERS = {
    **write_headers(
        "The checkout's URL, /checkouts/{checkout_id}",
        "Event store position of the write; pass it as min_position to wait for a status "
        "change you caused",
    ),
    "idempotent-replayed": header("`true` when this is a stored answer replayed", required=False),
}
_READ_BACK = {
    "getCheckout": link(
        "getCheckout",
        "Read the checkout back (at once: never a 404)",
        checkout_id="$response.body#/checkout_id",
    ),
    "getPaymentOrder": link(
        "getPaymentOrder",
        "Read the first order back (at once: never a 404)",
        payment_order_id="$response.body#/payment_orders/0/payment_order_id",
    ),
    "getPaymentOrderHistory": link(
        "getPaymentOrderHistory",
        "The first order's events",
        payment_order_id="$response.body#/payment_orders/0/payment_order_id",
    ),
}
# Examples of the request bodies, for the OpenAPI document's components.
EXAMPLES: dict[str, Any] = {}
EXAMPLES["CheckoutRequest"] = {
    "checkout_id": "co_readme_1",
    "buyer_info": {"name": "Ada Buyer", "email": "ada@example.com"},
    "credit_card_info": {"token": "tok_0123456789abcdef", "brand": "visa", "last4": "4242"},
    "payment_orders": [
        {
            "payment_order_id": "po_readme_1_a",
            "seller_account": "seller_a",
            "amount": "25.00",
            "currency": "USD",
        }
    ],
}


class PaymentsController(Controller):
    tags = ["payments"]

    @post(
        "/payments",
        **spec(
            "createCheckout",
            "Place a checkout: one payment order per seller",
            problems=(409, 413, 415, 422),
            answers=created_or_existing(
                CheckoutResponse,
                "Created: the checkout and each order's status",
                "The identical checkout already existed",
            ),
        ),
        description="Creates a Checkout and its PaymentOrders atomically. Needs Idempotency-Key. "
        "Answers 201 (created) or 200 (the identical checkout already existed). Card numbers "
        "and CVCs anywhere in the body are refused (422): send the PSP's token. 422 also for "
        "an amount above the deployment's maximum, another currency than the deployment's, "
        "or a payment_order_id twice in one checkout. With risk rules (docs/risk.md) each "
        "order says `risk`: `review` (NOT_STARTED, waits for an operator) or `decline` (FAILED, "
        "blocked_by_risk), with `risk_rule`.",
        status_code=201,
        before_request=guard_checkout_body,
        request_max_body_size=MAX_BODY_BYTES,
        operation_class=created_or_replayed(_READ_BACK, _CREATED_HEADERS),
        **access(Role.MERCHANT),
    )
    def create_checkout(
        self, data: JSONBody[CheckoutRequest], services: ServicesDep, once: OnceDep
    ) -> Response[bytes]:
        command = to_command(data, services.settings.currency)

        def place(answer: AnswerWithEvents[Placement]) -> tuple[StoredResponse, bool]:
            placement = place_checkout(services, command, answer)
            return _placement_response(placement), placement.created  # created: stored too

        return once.run_with_events(
            CREATE_SCOPE,
            fingerprint(data, services.personal_data.keyed_hash),  # the body holds buyer_info
            _positioned_response,
            place,
        )

    @get(
        "/payments",
        **spec("listPaymentOrders", "List payment orders, newest first", problems=(422, 503)),
        description=LIST_DESCRIPTION,
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE),
    )
    def list_payment_orders(
        self,
        services: ServicesDep,
        status: StatusQuery = None,
        seller_account: IdQuery = None,
        checkout_id: IdQuery = None,
        created_from: InstantQuery = None,
        created_to: InstantQuery = None,
        limit: LimitQuery = 50,
        cursor: CursorQuery = None,
        *,
        fresh: FreshDep,
    ) -> PaymentOrderPage:
        where = parse_filter(status, seller_account, checkout_id, created_from, created_to)
        return list_orders(services, where, limit, cursor, fresh.min_position())

    @get(
        "/payments/{payment_order_id:str}",
        **spec("getPaymentOrder", "A payment order's current state", problems=(404, 422, 503)),
        description="Right after the POST that created it, never a 404: an order the view does "
        "not hold yet is read from the event store (ADR 0011). Pass the position a command "
        "answered with as ?min_position= (or header Min-Position) to wait for a status change "
        "you caused. With ?as_of= the order as it stood at that instant, replayed from its "
        "events.",
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE),
    )
    def get_payment_order(
        self,
        payment_order_id: PaymentOrderIdPath,
        services: ServicesDep,
        fresh: FreshDep,
        as_of: AsOfQuery = None,
    ) -> PaymentOrderResponse:
        position = fresh.min_position()
        instant = parse_as_of(as_of)
        if instant is not None:
            return read_order_as_of(services, payment_order_id, instant)
        return with_dispute(services.application, read_order(services, payment_order_id, position))

    @get(
        "/checkouts/{checkout_id:str}",
        **spec("getCheckout", "A checkout and its orders", problems=(404, 422, 503)),
        description="Right after the POST that created it, never a 404 (ADR 0011).",
        **access(Role.MERCHANT, Role.OPERATOR, Role.FINANCE),
    )
    def get_checkout(
        self, checkout_id: CheckoutIdPath, services: ServicesDep, fresh: FreshDep
    ) -> CheckoutResponse:
        return read_checkout(services, checkout_id, fresh.min_position())
