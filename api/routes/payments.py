"""POST /payments, GET /payments/{payment_order_id}, GET /checkouts/{checkout_id}."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody

from payments.api.as_of import AsOfQuery, parse_as_of, read_order_as_of
from payments.api.card_guard import refuse_card_data
from payments.api.idempotency import require_key, run_idempotent
from payments.api.problems import FieldProblem, ProblemError, problem_specs
from payments.api.reads import (
    LIST_DESCRIPTION,
    MinPositionHeader,
    MinPositionQuery,
    PaymentOrderPage,
    list_orders,
    parse_filter,
    parse_limit,
    parse_min_position,
    read_checkout,
    read_order,
)
from payments.api.schemas import (
    CheckoutRequest,
    CheckoutResponse,
    PaymentOrderResponse,
    PaymentOrderSummary,
)
from payments.domain.application import OrderLine, PlaceCheckout, Placement
from payments.domain.checkout import Checkout
from payments.domain.errors import FieldError, InvalidCommand
from payments.domain.money import Money, MoneyError
from payments.domain.payment_order import PaymentOrder
from payments.runtime.idempotency import StoredResponse
from payments.runtime.services import Services

MAX_BODY_BYTES = 64 * 1024
# Kept for modules that imported them from here; new code imports api.idempotent_post.
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
    raw = await request.body()
    try:
        decoded = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise ProblemError(
            400,
            "malformed-json",
            "The body is not valid JSON",
            "The request body could not be parsed as UTF-8 JSON.",
            errors=[FieldProblem(field="body", message=str(error)[:200])],
        ) from None
    refuse_card_data(decoded)


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
        for name in ("brand", "last4", "exp_month", "exp_year")
        if (value := getattr(card, name)) is not None
    }
    return PlaceCheckout(
        checkout_id=data.checkout_id,
        buyer_info=data.buyer_info,
        card_token=card.token,
        card_details=details,
        orders=tuple(lines),
    )


def order_url(payment_order_id: str) -> str:
    return f"/payments/{payment_order_id}"


def checkout_body(checkout: Checkout, orders: list[PaymentOrder], position: int | None) -> bytes:
    return msgspec.json.encode(
        CheckoutResponse(
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
                )
                for o in orders
            ],
        )
    )


def order_body(order: PaymentOrder) -> PaymentOrderResponse:
    return PaymentOrderResponse(
        payment_order_id=order.payment_order_id,
        checkout_id=order.checkout_id,
        seller_account=order.seller_account,
        amount=order.amount.format(),
        currency=order.currency,
        status=order.status.value,
        ledger_updated=False,
        wallet_updated=False,
        attempts=order.attempts,
        psp_reference=order.psp_reference,
        failure_code=order.failure_code.value if order.failure_code else None,
        failure_reason=order.failure_reason,
        last_error=order.last_error,
        next_attempt_at=order.next_attempt_at,
        dead_lettered=order.dead_lettered,
        created_at=order.created_on,
        updated_at=order.modified_on,
    )


def _placement_response(placement: Placement) -> StoredResponse:
    headers = {"location": f"/checkouts/{placement.checkout.checkout_id}"}
    if placement.position is not None:
        headers["event-position"] = str(placement.position)
    return StoredResponse(
        status=201 if placement.created else 200,
        body=checkout_body(placement.checkout, placement.orders, placement.position),
        headers=headers,
    )


_CONFLICT_DOC = {409: "checkout_id or payment_order_id reused with another body, or key in flight"}


class PaymentsController(Controller):
    tags = ["payments"]

    @post(
        "/payments",
        summary="Place a checkout: one payment order per seller",
        description="Creates a Checkout and its PaymentOrders atomically. Needs Idempotency-Key. "
        "Answers 201 (created) or 200 (the identical checkout already existed).",
        status_code=201,
        before_request=guard_checkout_body,
        request_max_body_size=MAX_BODY_BYTES,
        sync_to_thread=True,
        response_description="The checkout and each order's status and URL",
        responses=problem_specs(400, 409, 413, 415, 422),
    )
    def create_checkout(
        self,
        data: JSONBody[CheckoutRequest],
        services: NamedDependency[Services],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key", required=False, description="Unique per operation"
            ),
        ] = None,
    ) -> Response[bytes]:
        key = require_key(idempotency_key)
        command = to_command(data, services.settings.currency)
        # Keyed: the body holds buyer_info, and the key's row outlives requests (ADR 0012).
        fingerprint = services.personal_data.keyed_hash(msgspec.json.encode(data, order="sorted"))
        return run_idempotent(
            services.idempotency,
            CREATE_SCOPE,
            key,
            fingerprint,
            lambda: _placement_response(services.application.place_checkout(command)),
        )

    @get(
        "/payments",
        summary="List payment orders, newest first",
        description=LIST_DESCRIPTION,
        sync_to_thread=True,
        responses=problem_specs(422, 503),
    )
    def list_payment_orders(
        self,
        services: NamedDependency[Services],
        status: FromQuery[str | None] = None,
        seller_account: FromQuery[str | None] = None,
        checkout_id: FromQuery[str | None] = None,
        created_from: FromQuery[str | None] = None,
        created_to: FromQuery[str | None] = None,
        limit: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        min_position: MinPositionQuery = None,
        min_position_header: MinPositionHeader = None,
    ) -> PaymentOrderPage:
        where = parse_filter(status, seller_account, checkout_id, created_from, created_to)
        size = parse_limit(limit)
        position = parse_min_position(min_position, min_position_header)
        return list_orders(services, where, size, cursor, position)

    @get(
        "/payments/{payment_order_id:str}",
        summary="A payment order's current state",
        sync_to_thread=True,
        description="Read from the order status view. Pass the position a command answered "
        "with as ?min_position= (or header Min-Position) to read your own write. With "
        "?as_of= the order as it stood at that instant, replayed from its events.",
        responses=problem_specs(404, 422, 503),
    )
    def get_payment_order(
        self,
        payment_order_id: FromPath[str],
        services: NamedDependency[Services],
        min_position: MinPositionQuery = None,
        min_position_header: MinPositionHeader = None,
        as_of: AsOfQuery = None,
    ) -> PaymentOrderResponse:
        position = parse_min_position(min_position, min_position_header)
        instant = parse_as_of(as_of)
        if instant is not None:
            return read_order_as_of(services, payment_order_id, instant)
        return read_order(services, payment_order_id, position)

    @get(
        "/checkouts/{checkout_id:str}",
        summary="A checkout and its orders",
        sync_to_thread=True,
        responses=problem_specs(404, 422, 503),
    )
    def get_checkout(
        self,
        checkout_id: FromPath[str],
        services: NamedDependency[Services],
        min_position: MinPositionQuery = None,
        min_position_header: MinPositionHeader = None,
    ) -> Response[bytes]:
        position = parse_min_position(min_position, min_position_header)
        return Response(
            content=read_checkout(services, checkout_id, position), media_type="application/json"
        )
