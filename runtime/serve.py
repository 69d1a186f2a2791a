"""Run the API with uvicorn and the background roles beside it; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from litestar.concurrency import set_asyncio_executor

from payments.runtime.api_processes import ApiProcesses
from payments.runtime.config import Settings
from payments.runtime.roles import Role, RoleFactory, SandboxProcess
from payments.runtime.secrets import sandbox_secret_files
from payments.runtime.services import Services, build_services

__all__ = [
    "AppFactory",
    "Role",
    "RoleFactory",
    "TlsFiles",
    "run_everything",
    "serve_http",
    "serve_inherited_socket",
]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """uvicorn's certificate chain and private key (PEM): the API then speaks HTTPS only."""

    certfile: Path
    keyfile: Path


# The HTTP application for the services (api.app.create_app): passed in by the command line,
# so that the composition root never imports the HTTP layer.
AppFactory = Callable[[Services], Any]

log = logging.getLogger("payments.serve")

KEEP_ALIVE_S = 75  # as nginx's keepalive_timeout: above a load balancer's usual 60 s


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
    processes: ApiProcesses | None = None
    try:
        for factory in roles or ():
            role = factory(services)
            role.start()
            started.append(role)
            log.info("role started", extra={"role": role.name})
        # uvicorn shuts down on SIGINT/SIGTERM, then re-raises the signal: turn both into
        # KeyboardInterrupt so that the roles, the pool and the embedded server stop cleanly.
        signal.signal(signal.SIGTERM, _interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            if settings.api_processes == 1:
                serve_http(services, create_app, host=host, port=port, tls=tls)
            else:
                processes = ApiProcesses(
                    settings.api_processes,
                    host,
                    port,
                    database_url=database_url,
                    psp_url=services.psp_url if sandbox is not None else None,
                    arguments=_tls_arguments(tls),
                )
                processes.start()
                log.info(
                    "api listening",
                    extra={"url": _url(host, port, tls), "processes": settings.api_processes},
                )
                processes.supervise()
    finally:
        if processes is not None:
            processes.stop()
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


def serve_http(
    services: Services,
    create_app: AppFactory,
    *,
    host: str,
    port: int,
    tls: TlsFiles | None,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Serve the API in this process until SIGINT/SIGTERM (on `sockets` when given, as an API
    process of several does: ADR 0020)."""
    settings = services.settings
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
        # An idle connection stays open longer than clients and proxies keep theirs (httpx
        # 5 s, a load balancer's 60 s): at uvicorn's 5 s a client could send on a connection
        # the server was closing at that instant, and get a read error for a POST it sent.
        timeout_keep_alive=KEEP_ALIVE_S,
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
    if sockets is None:
        log.info("api listening", extra={"url": _url(host, port, tls), "mode": settings.mode})
    uvicorn.Server(config).run(sockets=sockets)


def serve_inherited_socket(
    settings: Settings,
    fd: int,
    *,
    create_app: AppFactory,
    psp_url: str | None,
    tls: TlsFiles | None,
) -> None:
    """One API process of several: serve on the listening socket the parent passed (fd)."""
    listening = socket.socket(fileno=fd)
    assert settings.database_url, "the parent passes PAYMENTS_DATABASE_URL"
    services = build_services(settings, settings.database_url)
    if psp_url:
        services.psp_url = psp_url
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve_http(
                services, create_app, host=settings.host, port=0, tls=tls, sockets=[listening]
            )
    finally:
        services.close()
        listening.close()


def _tls_arguments(tls: TlsFiles | None) -> list[str]:
    if tls is None:
        return []
    return ["--ssl-certfile", str(tls.certfile), "--ssl-keyfile", str(tls.keyfile)]


def _url(host: str, port: int, tls: TlsFiles | None) -> str:
    return f"{'https' if tls else 'http'}://{host}:{port}"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
