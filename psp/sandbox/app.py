"""`create_sandbox_app(config)`: the Litestar application of the sandbox PSP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.exceptions import HTTPException

from payments.psp.sandbox.admin import admin_routes, health_routes
from payments.psp.sandbox.charges import charge_routes
from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.credentials import bearer_guard
from payments.psp.sandbox.hosted_page import hosted_page_routes
from payments.psp.sandbox.payouts import payout_routes
from payments.psp.sandbox.problems import (
    FieldError,
    Problem,
    ProblemError,
    problem_error_handler,
    problem_response,
)
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.store import SandboxStore
from payments.psp.sandbox.tokens import token_routes
from payments.psp.sandbox.worker import run_background_work


def _http_exception_handler(_: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    assert isinstance(error, HTTPException)
    errors: list[FieldError] = []
    if isinstance(error.extra, list):
        for item in error.extra:
            if isinstance(item, dict):
                errors.append(FieldError(str(item.get("key", "")), str(item.get("message", ""))))
    title = HTTPStatus(error.status_code).phrase
    problem = Problem(
        type="about:blank",
        title=title,
        status=error.status_code,
        detail=str(error.detail),
        errors=errors,
    )
    return problem_response(problem, headers=dict(error.headers or {}))


def create_sandbox_app(config: SandboxConfig) -> Litestar:
    """The sandbox as an ASGI app; its lifespan runs the webhook and status-change worker."""
    sandbox = Sandbox(config=config, store=SandboxStore(config.db_path))

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
        route_handlers=[
            *token_routes(sandbox),
            *charge_routes(sandbox),
            *payout_routes(sandbox),
            *admin_routes(sandbox),
        ],
        guards=[bearer_guard(config.api_key)],
    )
    app = Litestar(
        route_handlers=[protected, *health_routes(sandbox), *hosted_page_routes(sandbox)],
        lifespan=[background_worker],
        exception_handlers={
            ProblemError: problem_error_handler,
            HTTPException: _http_exception_handler,
        },
        request_max_body_size=config.max_body_bytes,
        openapi_config=None,
        debug=False,
    )
    app.state.sandbox = sandbox
    return app
