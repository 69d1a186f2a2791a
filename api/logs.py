"""One access-log line per HTTP request, and the request id every log line of it carries."""

from __future__ import annotations

import logging
import time
import uuid

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from payments.psp.cards import redact_card_numbers
from payments.runtime.logs import request_id_var

_access = logging.getLogger("payments.access")
_REQUEST_ID_HEADER = b"x-request-id"


def _valid_request_id(raw: bytes) -> str | None:
    text = raw.decode("latin-1")
    if 0 < len(text) <= 128 and text.isascii() and all(c.isalnum() or c in "-_.:" for c in text):
        return text
    return None


def request_logging_middleware(app: ASGIApp) -> ASGIApp:
    """Give each HTTP request an id (X-Request-Id in, or a new one), echo it, log one line."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = _valid_request_id(headers.get(_REQUEST_ID_HEADER, b"")) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (_REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            _access.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": redact_card_numbers(scope["path"]),  # never log a card number
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)

    return middleware
