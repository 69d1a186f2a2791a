"""`create_sandbox_app(config)`: the Litestar application of the sandbox PSP."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

from litestar import HttpMethod, Litestar, Request, Response, Router, route
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware

from payments.psp.sandbox.accounts import account_routes
from payments.psp.sandbox.admin import admin_routes, health_routes
from payments.psp.sandbox.balance import balance_routes
from payments.psp.sandbox.bank_tokens import bank_token_routes
from payments.psp.sandbox.charges import charge_routes
from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.credentials import RequireApiKey
from payments.psp.sandbox.disputes import dispute_routes
from payments.psp.sandbox.hosted_page import hosted_page_routes
from payments.psp.sandbox.openapi import (
    StrictStructSchemaPlugin,
    openapi_config,
    security_requirements,
)
from payments.psp.sandbox.payouts import payout_routes
from payments.psp.sandbox.problems import (
    FieldError,
    Problem,
    ProblemError,
    problem_error_handler,
    problem_response,
)
from payments.psp.sandbox.refunds import refund_routes
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.store import SandboxStore
from payments.psp.sandbox.tokens import token_routes
from payments.psp.sandbox.worker import run_background_work


def _field_error(request: Request[Any, Any, Any], item: dict[str, Any]) -> FieldError:
    """One of Litestar's validation messages as a field error, named as the client sent it.

    A header is `header.<Name>` (`header.Idempotency-Key`, not the handler's argument
    `idempotency_key`), as the payments API names it. A request without a body, where the
    handler takes one, comes as Litestar's missing `data` ("'data'", a KeyError's text): it
    names the body itself, as decode_json does, and says what is missing.
    """
    key, message = str(item.get("key", "")), str(item.get("message", ""))
    source = item.get("source")
    if key == "data" and source == "body":
        return FieldError("", "the body is empty; a JSON object is required")
    if source == "header":
        try:
            parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
        except Exception:  # no route: nothing to look up
            parameter = None
        name = getattr(getattr(parameter, "kwarg_definition", None), "name", None) or key
        return FieldError(f"header.{name}", message)
    return FieldError(key, message)


def _http_exception_handler(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    assert isinstance(error, HTTPException)
    errors: list[FieldError] = []
    if isinstance(error.extra, list):
        for item in error.extra:
            if isinstance(item, dict):
                errors.append(_field_error(request, item))
    title = HTTPStatus(error.status_code).phrase
    problem = Problem(
        type="about:blank",
        title=title,
        status=error.status_code,
        detail=str(error.detail),
        errors=errors,
    )
    return problem_response(problem, headers=dict(error.headers or {}))


def with_options(handlers: list[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """`handlers` after one OPTIONS handler per path whose `Allow` names every method of the path.

    Litestar 2.25 makes a path's automatic OPTIONS answer from the first handler registered on it
    and keeps it when more handlers arrive, so `Allow` would miss methods; an explicit handler
    registered first prevents the automatic one.
    """
    methods: dict[str, set[str]] = defaultdict(lambda: {HttpMethod.OPTIONS.value})
    for handler in handlers:
        for path in handler.paths:
            methods[path].update(handler.http_methods)

    def options_for(path: str, allowed: set[str]) -> HTTPRouteHandler:
        allow = ", ".join(sorted(allowed))

        async def allowed_methods() -> Response[None]:
            return Response(content=None, status_code=204, headers={"Allow": allow})

        return route(path, http_method=[HttpMethod.OPTIONS], include_in_schema=False)(
            allowed_methods
        )

    return [*(options_for(path, allowed) for path, allowed in sorted(methods.items())), *handlers]


def create_sandbox_app(config: SandboxConfig) -> Litestar:
    """The sandbox as an ASGI app; its lifespan runs the webhook and status-change worker."""
    store = SandboxStore(config.db_path)
    fingerprint_secret = config.fingerprint_secret or store.installation_secret("fingerprint")
    sandbox = Sandbox(config=config, store=store, fingerprint_secret=fingerprint_secret)

    @contextlib.asynccontextmanager
    async def background_worker(_: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(run_background_work(sandbox), name="psp-sandbox-worker")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            sandbox.store.close()

    protected = Router(
        path="/",
        route_handlers=with_options(
            [
                *token_routes(sandbox),
                *charge_routes(sandbox),
                *payout_routes(sandbox),
                *refund_routes(sandbox),
                *dispute_routes(sandbox),
                *account_routes(sandbox),
                *bank_token_routes(sandbox),
                *balance_routes(sandbox),
                *admin_routes(sandbox),
            ]
        ),
        middleware=[DefineMiddleware(RequireApiKey, api_key=config.api_key)],
        security=security_requirements(config.api_key is not None),
    )
    app = Litestar(
        route_handlers=[
            protected,
            *with_options([*health_routes(sandbox), *hosted_page_routes(sandbox)]),
        ],
        lifespan=[background_worker],
        exception_handlers={
            ProblemError: problem_error_handler,
            HTTPException: _http_exception_handler,
        },
        request_max_body_size=config.max_body_bytes,
        openapi_config=openapi_config(config.api_key is not None),
        plugins=[StrictStructSchemaPlugin()],
        debug=False,
    )
    app.state.sandbox = sandbox
    return app
