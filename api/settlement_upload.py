"""Settlement files sent over HTTP (a CSV body, or the console's file form): the media types,
the file spooled to disk while hashed (a large file never sits in memory), reconciling it, and
the problem a file that cannot be read answers."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from litestar import Request

from payments.api.problems import FieldProblem, ProblemError
from payments.psp.reconcile.engine import RunOutcome
from payments.psp.settlement import SettlementFormatError
from payments.runtime.services import Services

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


class Spool:
    """A file written into `directory` while hashed (a large file never sits in memory),
    refused (413) once it grows past `limit` bytes."""

    def __init__(self, directory: str, limit: int = MAX_UPLOAD_BYTES) -> None:
        self.path, self.limit = Path(directory) / "upload.csv", limit
        self.digest, self.size = hashlib.sha256(), 0

    def write(self, out: BinaryIO, block: bytes) -> None:
        self.size += len(block)
        if self.size > self.limit:
            raise ProblemError(
                413,
                "body-too-large",
                "The request body is too large",
                f"settlement files up to {self.limit} bytes",
            )
        self.digest.update(block)
        out.write(block)

    def sha256(self) -> str:
        return self.digest.hexdigest()


async def spool_body(request: Request[Any, Any, Any], directory: str) -> tuple[Path, str]:
    """Write the body to a file while hashing it."""
    spool = Spool(directory)
    with spool.path.open("wb") as out:
        async for block in request.stream():
            spool.write(out, block)
    return spool.path, spool.sha256()


@contextmanager
def private_directory() -> Iterator[str]:
    """A temporary folder only this process's user may read, removed after the block."""
    with tempfile.TemporaryDirectory(prefix="payments-upload-") as directory:
        os.chmod(directory, 0o700)
        yield directory


@asynccontextmanager
async def spooled_csv(request: Request[Any, Any, Any]) -> AsyncIterator[tuple[Path, str]]:
    """A CSV body spooled into a private temporary folder: its path and SHA-256, for the
    time of the block (415 for another media type, 413 past MAX_UPLOAD_BYTES)."""
    require_csv(request)
    with private_directory() as directory:
        yield await spool_body(request, directory)


def reconcile_spooled(
    services: Services, path: Path, file_sha: str, file_format: str | None, *, dry_run: bool
) -> RunOutcome:
    """Reconcile (or, dry, classify) a spooled file; one that cannot be read answers 422 and
    records nothing."""
    try:
        return services.reconciler.reconcile_path(
            path, file_sha=file_sha, file_format=file_format, dry_run=dry_run
        )
    except SettlementFormatError as error:
        raise format_problem(error) from None
