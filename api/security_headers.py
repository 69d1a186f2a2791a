"""Headers every answer carries (DESIGN §11): nothing cached, nothing sniffed or framed."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# Answers are about money and keys: no shared or browser cache may keep them.
_NO_STORE = (b"cache-control", b"no-store")
# JSON needs no scripts, styles or frames; the schema pages (/schema) load their own viewer.
_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# The console's pages: our stylesheet, inline SVG, forms to ourselves; still no scripts.
_CONSOLE_CSP = (
    b"content-security-policy",
    b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    b"base-uri 'none'; frame-ancestors 'none'",
)
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        is_schema = scope["path"].startswith("/schema")
        csp = _CONSOLE_CSP if scope["path"].startswith("/console") else _CSP
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [*_ALWAYS]
                if b"cache-control" not in present:
                    extra.append(_NO_STORE)
                if not is_schema:
                    extra.append(csp)
                if secure:
                    extra.append(_HSTS)
                message["headers"] = headers + [h for h in extra if h[0] not in present]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
