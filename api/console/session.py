"""Signing in to the console: an API key, checked like a bearer key, becomes a session.

The session is Litestar's client-side session: a cookie encrypted and authenticated with
AES-GCM (`cryptography`) under a key derived from the deployment's audit key
(runtime/secrets.console_secret); HttpOnly, SameSite=Strict, Secure when served over TLS,
scoped to /console. It holds the key's id and when the sign-in ends, never the key. Each
request looks the key up by id (KeyRing.caller_by_id), so a revoked or expired key ends its
sessions within the key ring's cache time. Every form carries a CSRF token (Litestar's
CSRFMiddleware: a signed double-submit token); a POST without it is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.concurrency import sync_to_thread
from litestar.config.csrf import CSRFConfig
from litestar.di import NamedDependency
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Receive, Scope, Send

from payments.api.auth import PUBLIC, RateLimits
from payments.api.console.forms import FormBody
from payments.api.console.pages import BASE, Page, ServicesDep, render
from payments.domain.api_key import Role
from payments.runtime.config import Settings
from payments.runtime.keys import Caller, KeyRing, visible_prefix
from payments.runtime.secrets import console_secret

SESSION_COOKIE, CSRF_COOKIE = "payments_console", "payments_console_csrf"
SIGN_IN = f"{BASE}/sign-in"
_OPEN = {**PUBLIC, "include_in_schema": False}
_ANY_ROLE = Page.of(f"{BASE}/sign-out", "Sign out", *Role)


class SignInForm(msgspec.Struct, frozen=True):
    key: Annotated[str, msgspec.Meta(max_length=200)] = ""


def console_middleware(settings: Settings, keys: KeyRing, *, secure: bool) -> list[Any]:
    """Session, then CSRF, then the caller: the console router's middleware, outermost first."""
    session = CookieBackendConfig(
        secret=console_secret(settings, "session"),
        key=SESSION_COOKIE,
        path=BASE,
        max_age=settings.console_session_s,
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    csrf = CSRFConfig(
        secret=console_secret(settings, "csrf").hex(),
        cookie_name=CSRF_COOKIE,
        cookie_path=BASE,
        cookie_secure=secure,
        cookie_httponly=True,
        cookie_samesite="strict",
        header_name="x-csrf-token",
    )
    # Litestar deep-copies a router: its middleware gets plain configs and a function.
    return [
        DefineMiddleware(ConsoleSessions, config=session),
        DefineMiddleware(CSRFMiddleware, config=csrf),
        DefineMiddleware(SessionCaller, keys=lambda: keys),
    ]


class ConsoleSessions(SessionMiddleware[ClientSideSessionBackend]):
    """Litestar's session middleware with its encrypted-cookie backend made here."""

    def __init__(self, app: ASGIApp, config: CookieBackendConfig) -> None:
        super().__init__(app, ClientSideSessionBackend(config))


class SessionCaller:
    """Puts the session's caller where the role check looks (`scope["user"]`), if the
    sign-in has not ended and its key is still valid."""

    def __init__(self, app: ASGIApp, keys: Callable[[], KeyRing]) -> None:
        self.app, self.keys = app, keys()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if isinstance(session, dict):
            key_id, until = session.get("key"), session.get("until")
            if isinstance(key_id, str) and isinstance(until, int) and until > time.time():
                caller = await sync_to_thread(self.keys.caller_by_id, key_id)
                if caller is not None:
                    scope["user"] = caller
        await self.app(scope, receive, send)


def signed_in(request: Request[Any, Any, Any]) -> Caller | None:
    user = request.scope.get("user")
    return user if isinstance(user, Caller) else None


@get("/sign-in", sync_to_thread=False, **_OPEN)
def sign_in_form(request: Request[Any, Any, Any]) -> Template | Redirect:
    if signed_in(request) is not None:
        return Redirect(BASE, status_code=303)
    return render("sign_in.html", None, None, error=None)


@post("/sign-in", sync_to_thread=True, **_OPEN)
def sign_in(
    request: Request[Any, Any, Any],
    data: FormBody[SignInForm],
    services: ServicesDep,
    limits: NamedDependency[RateLimits],
) -> Template | Redirect:
    address = request.client.host if request.client else "unknown"
    limits.refuse_if_blocked(address)
    caller = services.key_ring.caller(data.key.strip())
    if caller is None:
        limits.failed(address, visible_prefix(data.key.strip()))
        error = "That key is unknown, revoked or expired."
        return render("sign_in.html", None, None, status_code=401, error=error)
    until = int(time.time()) + services.settings.console_session_s
    request.set_session({"key": caller.key_id, "until": until})
    return Redirect(BASE, status_code=303)


@post("/sign-out", sync_to_thread=False, **_ANY_ROLE.access)
def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    request.clear_session()
    return Redirect(SIGN_IN, status_code=303)


HANDLERS = [sign_in_form, sign_in, sign_out]
