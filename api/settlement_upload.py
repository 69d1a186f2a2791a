"""Settlement files sent over HTTP: the media types, the body spooled to disk while hashed
(a large file never sits in memory), and the problem a file that cannot be read answers."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Request

from payments.api.problems import FieldProblem, ProblemError
from payments.psp.settlement import SettlementFormatError

MAX_UPLOAD_BYTES = 1 << 30  # a million-line report is about 200 MiB
CSV_MEDIA_TYPES = ("text/csv", "application/csv", "text/plain")


def require_csv(request: Request[Any, Any, Any]) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CSV_MEDIA_TYPES:
        raise ProblemError(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send the settlement file as text/csv, not {media_type or 'no content type'}",
        )


def format_problem(error: SettlementFormatError) -> ProblemError:
    return ProblemError(
        422,
        "settlement-file-invalid",
        "The settlement file cannot be reconciled",
        f"{error}; nothing was recorded.",
        errors=[
            FieldProblem(field=f"line {error.line}, column {error.column}", message=error.message)
        ],
    )


async def spool_body(request: Request[Any, Any, Any], directory: str) -> tuple[Path, str]:
    """Write the body to a file while hashing it (a large file never sits in memory)."""
    path = Path(directory) / "upload.csv"
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        async for block in request.stream():
            size += len(block)
            if size > MAX_UPLOAD_BYTES:
                raise ProblemError(
                    413,
                    "body-too-large",
                    "The request body is too large",
                    f"settlement files up to {MAX_UPLOAD_BYTES} bytes",
                )
            digest.update(block)
            out.write(block)
    return path, digest.hexdigest()


@asynccontextmanager
async def spooled_csv(request: Request[Any, Any, Any]) -> AsyncIterator[tuple[Path, str]]:
    """A CSV body spooled into a private temporary folder: its path and SHA-256, for the
    time of the block (415 for another media type, 413 past MAX_UPLOAD_BYTES)."""
    require_csv(request)
    with tempfile.TemporaryDirectory(prefix="payments-upload-") as directory:
        os.chmod(directory, 0o700)
        yield await spool_body(request, directory)
