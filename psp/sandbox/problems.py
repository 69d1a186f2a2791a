"""RFC 9457 problem+json answers, built in one place, and strict body decoding."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

PROBLEM_MEDIA_TYPE = "application/problem+json"
KEY_REUSED_TITLE = "Idempotency key reused"
KEY_REUSED_DETAIL = "this Idempotency-Key was used with a different body"
_PATH_IN_MESSAGE = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")

BodyType = TypeVar("BodyType")


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] = msgspec.field(default_factory=list)


class ProblemError(Exception):
    """Raised anywhere in a handler to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.headers = headers or {}
        self.problem = Problem(
            type=f"https://psp-sandbox.invalid/problems/{title.lower().replace(' ', '-')}",
            title=title,
            status=status,
            detail=detail,
            errors=errors or [],
        )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers or {},
    )


def problem_error_handler(_: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    assert isinstance(error, ProblemError)
    return problem_response(error.problem, error.headers)


def decode_json(body: bytes, body_type: type[BodyType]) -> BodyType:
    """Decode `body` strictly into `body_type`; a bad field becomes a 422 naming its path."""
    try:
        return msgspec.json.decode(body, type=body_type, strict=True)
    except msgspec.ValidationError as error:
        message = str(error)
        match = _PATH_IN_MESSAGE.search(message)
        field = match.group("path") if match else ""
        text = message[: match.start()] if match else message
        raise ProblemError(
            422, "Invalid request", "the body does not validate", [FieldError(field, text)]
        ) from None
    except msgspec.DecodeError as error:
        raise ProblemError(400, "Malformed JSON", str(error)) from None
