"""`run_sandbox(config)`: serve the sandbox with uvicorn until SIGINT or SIGTERM."""

from __future__ import annotations

import logging

import uvicorn

from payments.psp.sandbox.app import create_sandbox_app
from payments.psp.sandbox.config import SandboxConfig


def run_sandbox(config: SandboxConfig, *, log_level: str = "info") -> None:
    """Block serving HTTP; uvicorn handles SIGINT/SIGTERM, drains, then the lifespan stops the
    background worker and closes the database."""
    # urllib3 logs every new connection at DEBUG; the delivery outcome is logged by webhooks.py.
    logging.getLogger("urllib3").setLevel(logging.INFO)
    server = uvicorn.Server(
        uvicorn.Config(
            create_sandbox_app(config),
            host=config.host,
            port=config.port,
            log_level=log_level,
            # uvloop and httptools when installed (as the API): the PSP imitation shares the
            # machine with what it serves, so its CPU per call matters (docs/performance.md)
            loop="auto",
            http="auto",
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
    )
    server.run()
