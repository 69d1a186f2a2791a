"""Who may call what (DESIGN §11, ADR 0013): API keys, roles next to each route, rate limits.

Every route declares its access where it is defined: `**access(Role.FINANCE)` (the admin
role may always call) or `**PUBLIC` (health, schema, signed webhooks). `create_app` refuses
a route that declares neither, so a new route cannot be open by accident.

- No key, or a malformed, unknown, revoked or expired one: 401 with `WWW-Authenticate`.
- A key whose role the route does not admit: 403. A seller key asking for another seller's
  data: 404 (the route checks `caller.may_read_seller`), which reveals nothing.
- Per key, at most PAYMENTS_RATE_LIMIT_PER_KEY requests; per client address, at most
  PAYMENTS_RATE_LIMIT_FAILED_AUTH failed attempts: then 429 with `Retry-After`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from typing import Any

from limits import RateLimitItem, parse, storage, strategies
from litestar import Request
from litestar.concurrency import sync_to_thread
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from litestar.types import ASGIApp, Receive, Scope, Send

from payments.api.problems import ProblemError
from payments.domain.api_key import Role
from payments.runtime.keys import Caller, KeyRing, visible_prefix
from payments.runtime.services import Services

log = logging.getLogger("payments.auth")

ROLES_OPT, PUBLIC_OPT = "roles", "exclude_from_auth"
BEARER_SCHEME = "BearerAuth"
WWW_AUTHENTICATE = 'Bearer realm="payments"'

# Spread into the decorator of an open route (health, signed webhooks): no key, no security
# requirement. Its documented problems come from problem_specs(..., authenticated=False).
PUBLIC: dict[str, Any] = {"opt": {PUBLIC_OPT: True}, "security": []}


def access(*roles: Role) -> dict[str, Any]:
    """Route keyword arguments: which roles may call it (admin always), as a guard, as
    documentation (`opt`) and as the route's OpenAPI security requirement."""
    allowed = frozenset({*roles, Role.ADMIN})
    return {
        "middleware": [RequireRole],
        "opt": {ROLES_OPT: allowed},
        "security": [{BEARER_SCHEME: []}],
    }


def roles_of(handler: BaseRouteHandler) -> frozenset[Role] | None:
    """The roles a route admits, or None for an open route."""
    if handler.opt.get(PUBLIC_OPT):
        return None
    roles: frozenset[Role] = handler.opt.get(ROLES_OPT, frozenset())
    return roles


class RequireRole:
    """The role check of every route with a key, innermost of the route's middleware (after
    the key's or the console session's middleware put the caller in `scope["user"]`): the
    caller's role must be one the route admits.

    A route middleware, not a Litestar guard: Litestar hands each guard a copy of the route
    handler (`copy(handler)`, dozens of slots) on every request, about 3 % of the API's time
    at 16 clients in a py-spy profile (docs/performance.md, fourteenth session)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Litestar's own OPTIONS answer (CORS preflights) needs no key.
        if scope.get("method") != "OPTIONS":
            check_role(scope.get("user"), roles_of(scope["route_handler"]) or frozenset())
        await self.app(scope, receive, send)


def check_role(caller: object, allowed: frozenset[Role]) -> None:
    """401 without a caller, 403 when the caller's role is not one of `allowed`."""
    if not isinstance(caller, Caller):
        raise unauthorized("no API key", error="invalid_request")
    if caller.role not in allowed:
        raise ProblemError(
            403,
            "forbidden",
            "Not allowed for this key",
            f"a {caller.role.value} key may not call this; ask for a key with one of: "
            + ", ".join(sorted(r.value for r in allowed)),
        )


def caller_of(request: Request[Any, Any, Any], services: NamedDependency[Services]) -> Caller:
    """The dependency `caller`: who sent this request (an authenticated route only).

    It names `services`, which the key ring that made the caller lives in, so that Litestar
    resolves the two one after the other: two independent dependencies would be resolved in
    an anyio task group of two tasks per request (docs/performance.md).
    """
    del services
    caller: Caller = request.user
    return caller


def check_declared(handlers: Iterable[BaseRouteHandler]) -> None:
    """Refuse to build an app with a route that declares neither roles (with the role check
    among its middleware) nor PUBLIC."""
    undeclared = [
        str(getattr(h, "paths", h))
        for h in handlers
        if not h.opt.get(PUBLIC_OPT)
        and not (h.opt.get(ROLES_OPT) and RequireRole in h.resolve_middleware())
    ]
    if undeclared:
        raise RuntimeError(f"routes without declared access: {', '.join(undeclared)}")


class PrunedMemoryStorage(storage.MemoryStorage):
    """The `limits` library's in-memory storage, pruned at most once a second, inline.

    The library's own storage starts a new 10 ms `threading.Timer` to prune expired entries
    whenever its previous timer has ended, on every hit and test: under load, a thread
    started per request (3.4 % of the API's GIL time at 16 clients in a py-spy profile,
    docs/performance.md). Pruning only frees memory: a moving window compares its entries'
    times itself, so pruning later changes no answer. The override names the library's
    private method (limits 5.x); tests/security/test_rate_limit_storage.py fails if a
    release renames it, because a thread would be started per request again.
    """

    PRUNE_EVERY_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._pruned_at = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library calls it by this name
        now = time.monotonic()
        if now - self._pruned_at >= self.PRUNE_EVERY_S:
            self._pruned_at = now
            getattr(self, "_MemoryStorage__expire_events")()  # noqa: B009 (name-mangled)


class RateLimits:
    """Moving-window limits in this process (the `limits` library), per key and per address.

    With `processes` API processes sharing the port (PAYMENTS_API_PROCESSES, ADR 0020), each
    admits its share of a window (the limit ÷ processes, rounded up), so the deployment as a
    whole never admits more than the limit however the connections spread."""

    def __init__(self, per_key: str, failed_auth: str, processes: int = 1) -> None:
        self.limiter = strategies.MovingWindowRateLimiter(PrunedMemoryStorage())
        self.per_key: RateLimitItem = share(parse(per_key), processes)
        self.failed_auth: RateLimitItem = share(parse(failed_auth), processes)

    def retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        reset = self.limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))

    def refuse_if_blocked(self, address: str) -> None:
        """429 for an address that failed to authenticate too often lately."""
        if not self.limiter.test(self.failed_auth, address):
            raise self.too_many(
                self.failed_auth, address, "too many failed attempts to authenticate"
            )

    def failed(self, address: str, presented: str) -> None:
        """Count a failed attempt. `presented`: what may be logged of it (visible_prefix:
        the key's prefix and id, never a secret or hash)."""
        self.limiter.hit(self.failed_auth, address)
        log.warning("authentication failed", extra={"client": address, "key": presented})

    def too_many(self, item: RateLimitItem, identifier: str, what: str) -> ProblemError:
        seconds = self.retry_after(item, identifier)
        return ProblemError(
            429,
            "rate-limited",
            "Too many requests",
            f"{what}; retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


def share(item: RateLimitItem, processes: int) -> RateLimitItem:
    """One process's share of a limit: the amount ÷ processes, rounded up."""
    if processes == 1:
        return item
    return type(item)(math.ceil(item.amount / processes), item.multiples, item.namespace)


def unauthorized(detail: str, error: str = "invalid_token") -> ProblemError:
    return ProblemError(
        401,
        "unauthorized",
        "A valid API key is required",
        f"{detail}; send Authorization: Bearer <key> (create one with `payments keys create`)",
        headers={"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="{error}"'},
    )


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    """Turns `Authorization: Bearer <key>` into a Caller, or answers 401/429."""

    def __init__(self, app: ASGIApp, keys: KeyRing, limits: RateLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.keys = keys
        self.limits = limits

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        address = connection.client.host if connection.client else "unknown"
        self.limits.refuse_if_blocked(address)
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            self.limits.failed(address, "missing")
            raise unauthorized("no API key", error="invalid_request")
        if scheme.lower() != "bearer" or not token.strip():
            self.limits.failed(address, "malformed")
            raise unauthorized("the Authorization header is not Bearer <key>", "invalid_request")
        known, caller = self.keys.cached_caller(token.strip())
        if not known:  # the key's state must be read: off the event loop
            caller = await sync_to_thread(self.keys.caller, token.strip())
        if caller is None:
            self.limits.failed(address, visible_prefix(token.strip()))
            raise unauthorized("the API key is unknown, revoked or expired")
        if not self.limits.limiter.hit(self.limits.per_key, caller.key_id):
            raise self.limits.too_many(self.limits.per_key, caller.key_id, "rate limit of this key")
        return AuthenticationResult(user=caller, auth=caller.key_id)
