from __future__ import annotations

from litestar import Litestar
from litestar.utils.sync import AsyncCallable

from payments.projections.followers.follower import Follower
from payments.projections.pg import PostgresView
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services


def catch_up(services: Services, view: PostgresView) -> None:
    Follower(view, ApplicationEventSource(services.application)).run_until_idle()


def threaded_hooks(app: Litestar) -> set[str]:
    """Routes whose guards or before_request hook are synchronous: Litestar wraps each in
    AsyncCallable and hands it to a worker thread on every request (each must be a coroutine
    function)."""
    threaded = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            hooks = [*handler.resolve_guards()]
            if hasattr(handler, "resolve_before_request"):
                hooks.append(handler.resolve_before_request())
            threaded |= {
                f"{route.path}: {getattr(hook, 'func', hook)}"
                for hook in hooks
                if isinstance(hook, AsyncCallable)
            }
    return threaded
