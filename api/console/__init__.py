"""The operator console at /console: server-rendered pages over the same application and
views as the JSON API (docs/console.md, ADR 0016).

One module per page (`PAGE` and `HANDLERS`), templates in templates/ on one base layout,
the stylesheet in static/. Console routes declare their roles like every route (the route
table in docs/security.md lists them); a session cookie, not a bearer key, says who calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import MediaType, Request, Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.file_system import BaseLocalFileSystem
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from payments.api.auth import PUBLIC, RateLimits
from payments.api.console import (
    audit,
    dead_letters,
    disputes,
    events,
    jobs,
    ledger,
    order,
    orders,
    overview,
    pages,
    payouts,
    reconciliation,
    reconciliation_run,
    refunds,
    risk_reviews,
    sellers,
    session,
    wallets,
    webhooks,
)
from payments.api.console.forms import read_form_first
from payments.api.problems import EXCEPTION_HANDLERS, ProblemError, domain_problem
from payments.domain.errors import DomainError
from payments.runtime.services import Services

if TYPE_CHECKING:
    from litestar.types import PathType
    from litestar.types.file_types import FileInfo

HERE = Path(__file__).parent
TEMPLATES = TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)

pages.PAGES[:] = [
    overview.PAGE,
    orders.PAGE,
    disputes.PAGE,
    refunds.PAGE,
    dead_letters.PAGE,
    wallets.PAGE,
    ledger.PAGE,
    payouts.PAGE,
    sellers.PAGE,
    risk_reviews.PAGE,
    reconciliation.PAGE,
    audit.PAGE,
    jobs.PAGE,
    webhooks.PAGE,
    events.PAGE,
]
HANDLERS: list[Any] = [
    *session.HANDLERS,
    *overview.HANDLERS,
    *orders.HANDLERS,
    *order.HANDLERS,
    *disputes.HANDLERS,
    *refunds.HANDLERS,
    *dead_letters.HANDLERS,
    *wallets.HANDLERS,
    *ledger.HANDLERS,
    *payouts.HANDLERS,
    *sellers.HANDLERS,
    *risk_reviews.HANDLERS,
    *reconciliation.HANDLERS,
    *reconciliation_run.HANDLERS,
    *audit.HANDLERS,
    *jobs.HANDLERS,
    *webhooks.HANDLERS,
    *events.HANDLERS,
]

_TITLES = {
    400: "That request is not valid",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "That upload is too large",
    422: "That input is not valid",
    429: "Too many attempts",
}


def console_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """A console error as a page for a browser: no session, to sign-in; anything else, what
    went wrong. Another client (no text/html in Accept) gets the API's problem+json."""
    if "text/html" not in request.headers.get("accept", ""):
        for kind, handler in EXCEPTION_HANDLERS.items():
            if isinstance(kind, type) and isinstance(error, kind):
                return handler(request, error)
    if isinstance(error, ProblemError):
        status, detail = error.problem.status, error.problem.detail
    elif isinstance(error, HTTPException):
        status, detail = error.status_code, error.detail
        if isinstance(error.extra, list):  # Litestar's validation: which field, why
            detail += ": " + "; ".join(
                f"{e.get('key', '')} {e.get('message', '')}".strip()
                for e in error.extra
                if isinstance(e, dict)
            )
    elif isinstance(error, DomainError):
        problem = domain_problem(error)
        fields = "; ".join(f"{e.field}: {e.message}" for e in problem.errors)
        status, detail = problem.status, fields or problem.detail
    else:
        status, detail = 500, "unexpected error"
    if status == 401:
        return Redirect(session.SIGN_IN, status_code=303)
    if status == 413:
        detail = "The file is larger than this form takes (see its limit); nothing was recorded."
    if status == 403 and "CSRF" in detail:
        detail = "The form was stale or not ours (CSRF check failed): reload the page and retry."
    caller = session.signed_in(request)
    engine = request.app.template_engine
    assert engine is not None, "create_app configures the console's templates"
    body = engine.get_template("error.html").render(
        caller=caller,
        nav=[p for p in pages.PAGES if p.offered_to(caller)],
        page=None,
        status=status,
        title=_TITLES.get(status, "Something went wrong"),
        detail=detail,
    )
    return Response(body, status_code=status, media_type=MediaType.HTML)


class _StaticFiles(BaseLocalFileSystem):
    """The console's stylesheet folder. A name the OS refuses to look up (longer than a file
    name may be, say) is a file that is not there: 404, where Litestar's own adapter turns
    any OSError into a 500."""

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        try:
            return await super().info(path, **kwargs)
        except (FileNotFoundError, PermissionError):
            raise
        except (OSError, ValueError) as refused:
            raise FileNotFoundError(str(path)[:200]) from refused


def console_router(services: Services, limits: RateLimits, *, secure: bool) -> Router:
    static = create_static_files_router(
        "/static",
        directories=[HERE / "static"],
        file_system=_StaticFiles(),
        include_in_schema=False,
        opt=PUBLIC["opt"],
    )
    return Router(
        pages.BASE,
        route_handlers=[*HANDLERS, static],
        middleware=session.console_middleware(services.settings, services.key_ring, secure=secure),
        before_request=read_form_first,
        dependencies={"limits": Provide(lambda: limits, use_cache=True, sync_to_thread=False)},
        exception_handlers={
            ProblemError: console_error,
            DomainError: console_error,
            HTTPException: console_error,
        },
        include_in_schema=False,
    )
