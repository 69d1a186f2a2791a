"""RFC 9457 problem+json: every error answer is built here, in one shape."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from payments.domain.errors import (
    CheckoutConflict,
    DomainError,
    IllegalTransition,
    InvalidCommand,
    NotConfigured,
    NotFound,
    OrderNotRefundable,
    PaymentOrderConflict,
    PayoutConflict,
    RefundConflict,
    SellerConflict,
    SellerNotPayable,
    WebhookEndpointConflict,
)
from payments.domain.reasons import REASON_PATTERN

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://payments.dev/problems/"
log = logging.getLogger("payments.api")


class FieldProblem(msgspec.Struct, frozen=True):
    """One field at fault."""

    field: Annotated[
        str,
        msgspec.Meta(
            description="A body path (payment_orders[0].amount), a query parameter's name, "
            "or header.<Name>",
            examples=["payment_orders[0].amount"],
        ),
    ]
    message: str


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    """The body of every error answer (RFC 9457)."""

    type: Annotated[
        str,
        msgspec.Meta(
            description="https://payments.dev/problems/<slug>: what kind of problem",
            examples=["https://payments.dev/problems/validation"],
        ),
    ]
    title: str
    status: Annotated[int, msgspec.Meta(description="The HTTP status, repeated")]
    detail: str
    errors: list[FieldProblem] = []
    instance: str | None = None


class ProblemError(Exception):
    """Raise anywhere in a handler to answer with a problem; nothing is written."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        errors: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = problem(status, slug, title, detail, errors)
        self.headers = headers or {}


def problem(
    status: int, slug: str, title: str, detail: str, errors: list[FieldProblem] | None = None
) -> Problem:
    """A problem of the type https://payments.dev/problems/<slug>."""
    return Problem(
        type=TYPE_BASE + slug, title=title, status=status, detail=detail, errors=errors or []
    )


def invalid(errors: list[FieldProblem]) -> Problem:
    """422: one or more fields are invalid, each named in errors."""
    detail = "One or more fields are invalid; see errors."
    return problem(422, "validation", "The request is not valid", detail, errors)


_DESCRIPTIONS = {
    400: "Malformed request: a body that is not UTF-8 JSON or is nested too deeply, a control "
    "character in the path, query or a header, or a missing or invalid Idempotency-Key",
    401: "No API key, or an unknown, revoked or expired one (see WWW-Authenticate)",
    403: "The key's role may not call this operation",
    404: "Not found",
    409: "Conflict: id reused with another body, the same key still in flight, or not allowed "
    "in the resource's current state",
    413: "Body over the size limit",
    415: "Body in a media type this operation does not take",
    422: "Invalid fields or parameters (see errors[]), raw card data, a key reused with another "
    "body, or a rule of the current state (e.g. more than the available balance)",
    429: "Too many requests; see Retry-After",
    503: "Not available yet (a dependency is down or a view has not caught up); see Retry-After",
}

# Problems every operation can answer: 400 for control characters anywhere in a request;
# behind an API key (every route but health and signed webhooks, api/auth.py) also 401 for a
# missing or bad key, 403 for a role that may not, 429 past a rate limit.
EVERY_ROUTE_PROBLEMS: tuple[int, ...] = (400,)
AUTHENTICATED_PROBLEMS: tuple[int, ...] = (401, 403, 429)


def problem_specs(*statuses: int, authenticated: bool = True) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem answers a route can give (and every route gives)."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(status, "Problem"),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,  # Litestar's would be random strings
        )
        for status in sorted(
            {*statuses, *EVERY_ROUTE_PROBLEMS, *(AUTHENTICATED_PROBLEMS if authenticated else ())}
        )
    }


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def field_problems(pairs: list[tuple[str, str]]) -> list[FieldProblem]:
    return [FieldProblem(field=f, message=m) for f, m in pairs]


_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _field_from_key(key: str) -> str:
    return key.lstrip(".") or "body"


def _parameter_name(request: Request[Any, Any, Any], key: str, source: object) -> str:
    """The name a client sent: `header.Min-Position` for a header, the query name otherwise."""
    try:
        parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    except Exception:  # no route (404/405): nothing to look up
        parameter = None
    kwarg = getattr(parameter, "kwarg_definition", None)
    name = getattr(kwarg, "name", None) or key
    return f"header.{name}" if source == "header" else name


# A rule in words where msgspec would name its regular expression.
_PATTERN_WORDS = {repr(REASON_PATTERN): "must not be blank nor contain control characters"}


def readable(message: str) -> str:
    """msgspec's message, with a rule we name in words instead of its regular expression."""
    for pattern, words in _PATTERN_WORDS.items():
        if pattern in message:
            return words
    return message


def _body_optional(request: Request[Any, Any, Any]) -> bool:
    try:
        data = request.route_handler.parsed_fn_signature.parameters.get("data")
    except Exception:  # no route (404/405): nothing to look up
        return False
    return bool(getattr(data, "is_optional", False))


def _validation_problem(request: Request[Any, Any, Any], exc: ValidationException) -> Problem:
    errors: list[FieldProblem] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = readable(str(item.get("message", "invalid value")))
        key = str(item.get("key", "")) if item.get("key") is not None else ""
        source = item.get("source")
        if key == "data" or (source == "body" and not key):
            key = "body"
        elif source in ("header", "query", "path"):
            key = _parameter_name(request, key, source)
        if key == "body" and message == "'data'":  # Litestar's word for a missing body
            if _body_optional(request):
                continue  # another field failed; no body was needed
            message = "a JSON body is required"
        errors.append(FieldProblem(field=_field_from_key(key), message=message))
    if not errors:
        errors.append(FieldProblem(field="body", message=_clean(str(exc.detail))))
    return invalid(errors)


def _clean(text: str) -> str:
    return text[:300]


def handle_http_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Map Litestar's own exceptions (bad JSON, 404 routes, 405, 413, 400 validation)."""
    if isinstance(exc, ValidationException):
        body_error = _malformed_body(exc)
        if body_error is not None:
            return problem_response(body_error)
        return problem_response(_validation_problem(request, exc))
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        log.error("internal error", exc_info=exc)
        return problem_response(_internal())
    slug, title = _TITLES.get(status, ("error", "Request refused"))
    if status == 400 and "JSON is malformed" in str(exc.detail):
        slug, title = "malformed-json", "The body is not valid JSON"
    answer = problem(status, slug, title, _clean(str(exc.detail)))
    return problem_response(answer, headers=dict(exc.headers or {}))


def _malformed_body(exc: ValidationException) -> Problem | None:
    detail = str(exc.detail)
    if "JSON" in detail and ("malformed" in detail.lower() or "decode" in detail.lower()):
        return problem(
            400, "malformed-json", "The body is not valid JSON",
            "The request body could not be parsed as JSON.",
            [FieldProblem(field="body", message=_clean(detail))],
        )  # fmt: skip
    return None


_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Not authorised"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("body-too-large", "The request body is too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation", "The request is not valid"),
    429: ("too-many-requests", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


def _internal() -> Problem:
    return problem(
        500, "internal", "Internal error",
        "Something went wrong on our side; nothing was half-written. Retry later.",
    )  # fmt: skip


def handle_problem_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.problem, headers=exc.headers)


def handle_domain_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, DomainError)
    return problem_response(domain_problem(exc))


def _on(field: str, message: str | None = None) -> Callable[[DomainError], list[FieldProblem]]:
    """The refusal names one field (`message`: what to say of it; None: the refusal's own)."""
    return lambda exc: [FieldProblem(field=field, message=message or str(exc))]


# How each other refusal of the domain is answered, first match wins: (the error, the
# problem's status, type slug and title, and the field it names if any).
DOMAIN_PROBLEMS: tuple[
    tuple[type[DomainError], int, str, str, Callable[[DomainError], list[FieldProblem]] | None],
    ...,
] = (
    (CheckoutConflict, 409, "checkout-conflict", "checkout_id already used",
     _on("checkout_id", "already used with another body")),
    (PaymentOrderConflict, 409, "payment-order-conflict", "payment_order_id already used",
     _on("payment_order_id")),
    (PayoutConflict, 409, "payout-conflict", "Payout already exists with other content", None),
    (RefundConflict, 409, "refund-conflict", "Refund already exists with other content",
     _on("header.Idempotency-Key", "already used")),
    (WebhookEndpointConflict, 409, "webhook-endpoint-conflict",
     "Webhook endpoint already exists with other content",
     _on("header.Idempotency-Key", "already used")),
    (OrderNotRefundable, 409, "order-not-refundable", "Order not refundable", None),
    (SellerNotPayable, 422, "seller-not-payable", "Seller may not be paid out",
     _on("seller_account")),
    (SellerConflict, 409, "seller-conflict", "Seller registered already",
     _on("seller_account", "registered already")),
    (NotConfigured, 409, "not-configured", "Not configured in this deployment", None),
    (NotFound, 404, "not-found", "Not found", None),
    (IllegalTransition, 409, "illegal-transition", "Not allowed now", None),
)  # fmt: skip


def domain_problem(exc: DomainError) -> Problem:
    if isinstance(exc, InvalidCommand):
        return invalid([FieldProblem(field=e.field, message=e.message) for e in exc.errors])
    for kind, status, slug, title, names in DOMAIN_PROBLEMS:
        if isinstance(exc, kind):
            return problem(status, slug, title, str(exc), names(exc) if names else None)
    return problem(422, "domain", "Refused", str(exc))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error("unhandled error", exc_info=exc)
    return problem_response(_internal())


ExceptionHandler = Callable[[Request[Any, Any, Any], Exception], Response[Any]]
EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {
    ProblemError: handle_problem_error,
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
