"""HTTP to the PSP: urllib3 under the PSP client and the onboarding (ADR 0022).

One `PspHttp` per client holds a pool of keep-alive connections to the PSP's base URL; it
is safe to share between threads (a caller waits for a free connection at most the
timeout). No retries or redirects of its own: the executor's queue decides what is tried
again. Everything a call can fail with in transport is `PspTransportError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import msgspec
import urllib3
from urllib3.exceptions import EmptyPoolError, HTTPError, NewConnectionError, TimeoutError

from payments.projections.storable import without_nul


class PspTransportError(Exception):
    """No answer: the connection failed, or the PSP did not answer within the timeout."""

    def __init__(self, what: str, *, timed_out: bool) -> None:
        super().__init__(what)
        self.timed_out = timed_out


@dataclass(frozen=True, slots=True)
class PspResponse:
    """A whole answer: its status and body."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not), U+0000 in its strings replaced by
        U+FFFD: no text column of ours can store it (projections/storable.py)."""
        value = json.loads(self.content)
        return without_nul(value) if b"\\u0000" in self.content else value


class PspHttp:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        max_connections: int = 10,
        api_key: str | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout_s = timeout_s
        self._pool = urllib3.PoolManager(
            maxsize=max_connections,
            block=True,  # at most max_connections open: the others wait for one
            retries=False,
            timeout=urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s),
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PspResponse:
        """Send one request and read its whole answer (PspTransportError when there is none)."""
        sent_headers = dict(self._headers)
        body = None
        if json is not None:
            body = msgspec.json.encode(json)
            sent_headers["Content-Type"] = "application/json"
        if headers:
            sent_headers.update(headers)
        with _transport():
            response = self._pool.request(
                method,
                self._url(path, params),
                body=body,
                headers=sent_headers,
                redirect=False,
                pool_timeout=self._timeout_s,
            )
        return PspResponse(response.status, response.data)

    @contextmanager
    def stream(self, path: str, *, timeout_s: float) -> Iterator[StreamedAnswer]:
        """GET `path` and read its body in blocks (`StreamedAnswer.blocks`)."""
        with _transport():
            response = self._pool.request(
                "GET",
                self._url(path, None),
                headers=self._headers,
                redirect=False,
                preload_content=False,
                timeout=urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s),
                pool_timeout=timeout_s,
            )
        try:
            yield StreamedAnswer(response)
        finally:
            response.release_conn()

    def close(self) -> None:
        self._pool.clear()

    def _url(self, path: str, params: Mapping[str, str] | None) -> str:
        return f"{self._base}{path}?{urlencode(params)}" if params else f"{self._base}{path}"


class StreamedAnswer:
    """An answer whose body is read as it comes."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status_code = response.status
        self._response = response

    def blocks(self, size: int) -> Iterator[bytes]:
        with _transport():
            yield from self._response.stream(size)


@contextmanager
def _transport() -> Iterator[None]:
    """urllib3's errors as PspTransportError (a refused connection is not a timeout, though
    urllib3 files NewConnectionError under its timeouts; waiting longer than the timeout for
    a free connection is one)."""
    try:
        yield
    except NewConnectionError as error:
        raise PspTransportError(
            f"connection error: {type(error).__name__}", timed_out=False
        ) from error
    except (TimeoutError, EmptyPoolError) as error:  # no free connection within the timeout
        raise PspTransportError(f"timeout: {type(error).__name__}", timed_out=True) from error
    except HTTPError as error:
        raise PspTransportError(
            f"connection error: {type(error).__name__}", timed_out=False
        ) from error
