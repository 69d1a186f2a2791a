"""Who may call the sandbox, and where its secrets come from.

Neither secret has a default. The webhook secret signs every event (a webhook URL without one is
refused at start); the API key, once configured, must come with every `/v1/*` and `/admin/*` call
as `Authorization: Bearer <key>`. `/health`, `/schema*` and the hosted card page stay open, as a
real PSP's status page, API description and publishable-key card form are. Secrets are read from
a file or the environment, because a command line is visible to every user in `ps`.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, Receive, Scope, Send

from payments.psp.sandbox.problems import ProblemError

API_KEY_ENV = "PSP_SANDBOX_API_KEY"
WEBHOOK_SECRET_ENV = "PSP_SANDBOX_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
BEARER_SCHEME = "bearerAuth"


class SecretError(ValueError):
    """A secret given in a way that cannot be used (unreadable file, empty value, given twice)."""


def read_secret_file(path: Path, name: str) -> str:
    """The file's text without surrounding whitespace (editors add a final newline)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretError(f"cannot read the {name} file {path}: {error}") from None
    if not text:
        raise SecretError(f"the {name} file {path} is empty")
    return text


def resolve_secret(
    name: str, *, file: Path | None, inline: str | None, environment_value: str | None
) -> str | None:
    """The secret from its file, else the command line, else the environment; None if unset."""
    if file is not None and inline is not None:
        raise SecretError(f"give the {name} once: as a file or on the command line, not both")
    if file is not None:
        return read_secret_file(file, name)
    for value, source in (
        (inline, "on the command line"),
        (environment_value, "in the environment"),
    ):
        if value is not None:
            if not value.strip():
                raise SecretError(f"the {name} given {source} is empty")
            return value.strip()
    return None


def _unauthorised(title: str, detail: str, challenge: str) -> ProblemError:
    return ProblemError(401, title, detail, headers={"WWW-Authenticate": challenge})


class RequireApiKey:
    """The protected routes' middleware: a call goes through only with the configured key (any
    call if there is none).

    The comparison is constant-time, so timing does not reveal how much of a guess was right.
    A middleware, not a Litestar guard: Litestar hands each guard a copy of the route handler
    on every call (docs/performance.md, fourteenth session)."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.expected = api_key.encode() if api_key is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # OPTIONS only names the methods, and preflight requests carry no credentials.
        if self.expected is not None and scope.get("method") != "OPTIONS":
            self.check(ASGIConnection(scope).headers.get("Authorization"), self.expected)
        await self.app(scope, receive, send)

    @staticmethod
    def check(header: str | None, expected: bytes) -> None:
        if header is None:
            raise _unauthorised(
                "API key missing", "send Authorization: Bearer <API key>", 'Bearer realm="psp"'
            )
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), expected
        ):
            raise _unauthorised(
                "API key invalid",
                "the bearer key is not this sandbox's API key",
                'Bearer realm="psp", error="invalid_token"',
            )
