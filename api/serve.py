"""Run the API with uvicorn and the background roles beside it; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import uvicorn

from api.app import create_app
from api.config import Settings
from api.services import Services, build_services

log = logging.getLogger("payments.serve")


@dataclass
class Role:
    """A background role: start() returns quickly, stop() ends it and waits."""

    name: str
    start: Callable[[], None]
    stop: Callable[[], None]


RoleFactory = Callable[[Services], Role]


def run_everything(
    settings: Settings,
    database_url: str,
    *,
    host: str,
    port: int,
    with_sandbox: bool,
    roles: Sequence[RoleFactory] | None = None,
) -> None:
    services = build_services(settings, database_url)
    started: list[Role] = []
    try:
        for factory in roles or ():
            role = factory(services)
            role.start()
            started.append(role)
            log.info("role started", extra={"role": role.name})
        config = uvicorn.Config(
            create_app(services),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        log.info("api listening", extra={"url": f"http://{host}:{port}"})
        # uvicorn re-raises the SIGINT it already handled by shutting down.
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
        log.info("stopped")
