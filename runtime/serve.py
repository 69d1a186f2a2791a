"""Run the API with uvicorn and the background roles beside it; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from litestar.concurrency import set_asyncio_executor

from payments.runtime.config import Settings
from payments.runtime.roles import Role, RoleFactory, SandboxProcess
from payments.runtime.secrets import sandbox_secret_files
from payments.runtime.services import Services, build_services

__all__ = ["AppFactory", "Role", "RoleFactory", "TlsFiles", "run_everything"]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """uvicorn's certificate chain and private key (PEM): the API then speaks HTTPS only."""

    certfile: Path
    keyfile: Path


# The HTTP application for the services (api.app.create_app): passed in by the command line,
# so that the composition root never imports the HTTP layer.
AppFactory = Callable[[Services], Any]

log = logging.getLogger("payments.serve")


def run_everything(
    settings: Settings,
    database_url: str,
    *,
    host: str,
    port: int,
    with_sandbox: bool,
    create_app: AppFactory,
    roles: Sequence[RoleFactory] | None = None,
    tls: TlsFiles | None = None,
) -> None:
    sandbox: SandboxProcess | None = None
    if with_sandbox and not settings.psp_url:
        callback_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        scheme = "https" if tls else "http"
        secret_file, api_key_file = sandbox_secret_files(settings)
        sandbox = SandboxProcess(
            settings.data_dir / "psp-sandbox",
            settings.psp_sandbox_port,
            webhook_url=f"{scheme}://{callback_host}:{port}/webhooks/psp",
            secret_file=secret_file,
            api_key_file=api_key_file,
            # The sandbox's webhooks reach our HTTPS port: it trusts our certificate.
            trusted_certificate=tls.certfile if tls else None,
        )
        sandbox.start()
    services = build_services(settings, database_url)
    if sandbox is not None:
        services.psp_url = sandbox.url
    started: list[Role] = []
    try:
        for factory in roles or ():
            role = factory(services)
            role.start()
            started.append(role)
            log.info("role started", extra={"role": role.name})
        # Sync handlers wait on PostgreSQL most of the time: give them more threads than the
        # loop's default (cores + 4), as many as there are connections for them to use.
        set_asyncio_executor(
            ThreadPoolExecutor(max_workers=2 * settings.db_pool_size, thread_name_prefix="api")
        )
        config = uvicorn.Config(
            create_app(services),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            # libuv's loop and the C HTTP parser (both dependencies; ADR 0018): a POST costs
            # less of the one core the API's Python gets than with asyncio's loop and h11
            # (docs/performance.md). "auto" picks them, and falls back to asyncio and h11 in
            # a virtualenv not yet reinstalled since they became dependencies.
            loop="auto",
            http="auto",
            ssl_certfile=str(tls.certfile) if tls else None,
            ssl_keyfile=str(tls.keyfile) if tls else None,
            # Behind a TLS-terminating proxy the client address and scheme come from it.
            proxy_headers=settings.trust_proxy,
            forwarded_allow_ips="*" if settings.trust_proxy else None,
        )
        scheme = "https" if tls else "http"
        log.info("api listening", extra={"url": f"{scheme}://{host}:{port}", "mode": settings.mode})
        # uvicorn shuts down on SIGINT/SIGTERM, then re-raises the signal: turn both into
        # KeyboardInterrupt so that the roles, the pool and the embedded server stop cleanly.
        signal.signal(signal.SIGTERM, _interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run()
    finally:
        for role in reversed(started):
            try:
                role.stop()
                log.info("role stopped", extra={"role": role.name})
            except Exception:
                log.exception("role did not stop cleanly", extra={"role": role.name})
        services.close()
        if sandbox is not None:
            sandbox.stop()
        log.info("stopped")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
