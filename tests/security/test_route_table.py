"""docs/security.md lists every route and the roles it admits; the app must agree, row for row."""

from __future__ import annotations

from pathlib import Path

from payments.api.app import create_app
from payments.api.auth import roles_of
from payments.domain.api_key import Role
from payments.runtime.config import Settings
from tests.security.helpers import threaded_hooks

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
BEGIN, END = "<!-- routes: begin -->", "<!-- routes: end -->"
ORDER = [Role.MERCHANT, Role.OPERATOR, Role.FINANCE, Role.SELLER, Role.ADMIN]


class _NoKeys:
    def caller(self, text: str) -> None:
        return None


class _Services:
    settings = Settings.from_env({})
    key_ring = _NoKeys()


def route_table() -> list[str]:
    """One markdown row per method and path: who may call it, from the roles each route declares."""
    app = create_app(_Services())  # type: ignore[arg-type]
    rows = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            methods = sorted(m for m in handler.http_methods if m not in ("OPTIONS", "HEAD"))
            if not methods or route.path.startswith("/schema"):
                continue
            roles = roles_of(handler)
            who = "open" if roles is None else ", ".join(r.value for r in ORDER if r in roles)
            path = route.path.replace(":str", "")
            rows |= {f"| `{method} {path}` | {who} |" for method in methods}
    return ["| route | who may call it |", "|---|---|", *sorted(rows)]


def test_the_documented_route_table_is_the_apps() -> None:
    text = DOC.read_text()
    documented = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip().splitlines()
    assert documented == route_table(), "\n".join(route_table())


def test_no_route_hands_its_guards_to_a_thread() -> None:
    assert not threaded_hooks(create_app(_Services()))  # type: ignore[arg-type]
