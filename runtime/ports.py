"""What a process needs before it starts, refused at once with what to do."""

from __future__ import annotations

import socket


class CannotStart(RuntimeError):
    """A process or role could not start; the message says why and what to change."""


def require_free_port(host: str, port: int, what: str, setting: str) -> None:
    """Refuse, naming `setting`, when another process already listens on host:port: found
    before anything starts rather than after the embedded server and the roles are up."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CannotStart(
                f"{what} cannot listen on {host}:{port}: {error.strerror or error}"
                f" (another `payments serve`?); choose another with {setting}"
            ) from None
