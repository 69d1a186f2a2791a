"""What every request passes before a handler sees it: no control characters, bounded JSON.

A request whose path, query string or header values hold a control character (NUL, CR, LF,
ESC, DEL, C1...) answers a 400 problem before routing reaches a handler or the database; a
JSON body nested deeper than MAX_JSON_DEPTH, or holding U+0000 in a key or a string (but
within a checkout's sealed buyer_info), answers a 400 problem before anything decodes it
into a request type. None writes anything.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Litestar, Request
from litestar.datastructures import FormMultiDict
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.types.empty import Empty

from payments.api.card_guard import refuse_card_data
from payments.api.problems import PROBLEM_MEDIA_TYPE, FieldProblem, ProblemError

NUL = "\x00"  # no PostgreSQL text can hold it
# Deep enough for any body of ours (checkouts are 3 levels; buyer_info a few more).
MAX_JSON_DEPTH = 32
# Unicode's control characters (category Cc: C0, DEL and C1), searched for in C; a header
# value may hold a horizontal tab, the one HTTP allows there.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_TAB = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def _control_character(text: str, pattern: re.Pattern[str] = _CONTROL) -> str | None:
    found = pattern.search(text)
    return found.group() if found is not None else None


def _control_problem(where: str, character: str) -> ProblemError:
    message = f"contains the control character U+{ord(character):04X}"
    return ProblemError(
        400,
        "control-character",
        "Control characters are not accepted",
        f"{where} {message}; send printable text only.",
        errors=[FieldProblem(field=where, message=message)],
    )


def refuse_control_characters(scope: Scope) -> None:
    """Raise a 400 problem naming the first path, query or header with a control character."""
    path = scope.get("path", "")
    if (found := _control_character(path)) is not None:
        raise _control_problem("path", found)
    raw_query = scope.get("query_string", b"")
    if raw_query:
        query = unquote_to_bytes(raw_query.replace(b"+", b" ")).decode("utf-8", "replace")
        if (found := _control_character(query)) is not None:
            raise _control_problem("query", found)
    for name, value in scope.get("headers", ()):
        text = value.decode("latin-1")
        if (found := _control_character(text, _CONTROL_BUT_TAB)) is not None:
            raise _control_problem(f"header.{name.decode('latin-1')}", found)


def control_character_middleware(app: ASGIApp) -> ASGIApp:
    """Refuse control characters in the request line and headers with a 400 problem.

    It answers itself (rather than raising) so that the middleware around it, the access log
    and the metrics, see the 400.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":  # type: ignore[comparison-overlap]
            try:
                refuse_control_characters(scope)
            except ProblemError as refused:
                body = msgspec.json.encode(refused.problem)
                await send(
                    {
                        "type": "http.response.start",
                        "status": refused.problem.status,
                        "headers": [
                            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
        await app(scope, receive, send)

    return middleware


def _allowed_methods(app: Litestar, path_template: str) -> str | None:
    for route in app.routes:
        if isinstance(route, HTTPRoute) and path_template in (route.path, route.path_format):
            return ", ".join(sorted(route.methods))
    return None


def allow_header_middleware(app: ASGIApp) -> ASGIApp:
    """OPTIONS answers list every method of the path.

    Litestar's own OPTIONS handler keeps the methods of the first handler registered for a
    path (OPTIONS /payments said POST only, not GET); this sets the route's full list.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "OPTIONS":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        allowed = _allowed_methods(scope["litestar_app"], scope.get("path_template", ""))

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed is not None:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message["headers"] = [*headers, (b"allow", allowed.encode())]
            await send(message)

        await app(scope, receive, send_with_allow)

    return middleware


# --- JSON bodies ------------------------------------------------------------------------


def malformed_json(detail: str) -> ProblemError:
    return ProblemError(
        400,
        "malformed-json",
        "The body is not valid JSON",
        "The request body could not be parsed as UTF-8 JSON.",
        errors=[FieldProblem(field="body", message=detail[:200])],
    )


def too_deep() -> ProblemError:
    return ProblemError(
        400,
        "json-too-deep",
        "The JSON body is nested too deeply",
        f"Objects and arrays may be nested at most {MAX_JSON_DEPTH} levels deep.",
        errors=[FieldProblem(field="body", message=f"nested deeper than {MAX_JSON_DEPTH} levels")],
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects/arrays in a decoded value nest deeper than `limit` (no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


# Sealed before it is stored, as ciphertext only (ADR 0012): any text will do. Its buyer_id,
# which names the buyer's key, is checked in the domain (buyer_id_errors).
SEALED = "buyer_info"


def _holding_nul(value: Any) -> str | None:
    """The body path of the first key or string holding U+0000, or None (not in SEALED)."""
    pending: deque[tuple[Any, str]] = deque([(value, "")])  # breadth first: the shallowest
    while pending:
        item, path = pending.popleft()
        if isinstance(item, str):
            if NUL in item:
                return path or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else key
                if NUL in key:
                    return where.replace(NUL, "\\u0000")
                if where != SEALED:
                    pending.append((child, where))
        elif isinstance(item, list):
            pending.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
    return None


def decode_json_body(raw: bytes) -> Any:
    """The body as plain JSON values; 400 problems when malformed, not UTF-8, too deep, or
    holding U+0000 in a string: PostgreSQL's text cannot store it, and a view fed an event
    holding one would stop at that event (json's escape, since a raw NUL is not JSON)."""
    try:
        value = msgspec.json.decode(raw)
    except RecursionError:  # msgspec's own guard, far past MAX_JSON_DEPTH
        raise too_deep() from None
    except msgspec.DecodeError as error:  # also non-UTF-8, overlong UTF-8, lone surrogates
        raise malformed_json(str(error)) from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise too_deep()
    if b"\\u0000" in raw and (where := _holding_nul(value)) is not None:
        raise _control_problem(where, NUL)
    return value


class PaymentsRequest(Request[Any, Any, Any]):
    """Litestar's request, with JSON bodies decoded by decode_json_body (bounded depth), and
    forms (the console's) refused when a field holds U+0000; either refused when it holds a
    card number or a CVC (api/card_guard.py): every route that reads a JSON body or a form
    reads it here, so no free text of any route (a reason, a note, a description) can carry
    card data into an event or a log."""

    async def form(self) -> FormMultiDict:
        """The form; the console reads it before any handler (forms.read_form_first)."""
        form = await super().form()
        for name, value in form.multi_items():
            if NUL in name or (isinstance(value, str) and NUL in value):
                raise _control_problem(name.replace(NUL, "\\u0000"), NUL)
        refuse_card_data(
            {name: [v for v in form.getall(name) if isinstance(v, str)] for name in form}
        )
        return form

    async def json(self) -> Any:
        if self._json is Empty and self._connection_state.json is Empty:
            decoded = decode_json_body(await self.body() or b"null")
            refuse_card_data(decoded)
            self._json = self._connection_state.json = decoded
        return await super().json()
