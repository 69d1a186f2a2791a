"""What every console page shares: its place in the navigation, who may open it, the caller,
the as-of instant, and rendering into the one base layout (templates/base.html).

A page module declares `PAGE = Page(path, title, roles)`, decorates its handlers with
`**PAGE.access` (the same guard and roles as the JSON API's routes, ADR 0013) and renders with
`render(...)`; adding it to `PAGES` and `HANDLERS` in `api/console/__init__.py` puts it in the
navigation of the roles that may open it, and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar.params import QueryParameter
from litestar.response import Template

from payments.api.as_of import parse_as_of
from payments.api.auth import access
from payments.api.parameters import CallerDep as CallerDep  # what every handler is given,
from payments.api.parameters import ServicesDep as ServicesDep  # as the JSON routes are
from payments.api.reads import invalid, parse_instant
from payments.domain.api_key import Role
from payments.runtime.keys import Caller

BASE = "/console"
# A form field sent in the query (a search, the as-of instant); empty means not given.
Field = Annotated[str | None, QueryParameter(max_length=200)]


@dataclass(frozen=True, slots=True)
class Page:
    path: str  # under /console, as the browser sees it
    title: str
    roles: frozenset[Role]  # admin may always open it

    @classmethod
    def of(cls, path: str, title: str, *roles: Role) -> Page:
        return cls(path, title, frozenset({*roles, Role.ADMIN}))

    @property
    def access(self) -> dict[str, Any]:
        return console_access(*self.roles)

    def offered_to(self, caller: Caller | None) -> bool:
        return caller is not None and caller.role in self.roles


def console_access(*roles: Role) -> dict[str, Any]:
    """Route keyword arguments: the JSON API's role check (admin always), no OpenAPI entry.
    An action of a page declares the roles of the JSON route that does the same thing."""
    declared = access(*roles)
    declared.pop("security")
    return {**declared, "include_in_schema": False}


def may(caller: Caller, *roles: Role) -> bool:
    """Whether a page offers the caller an action of these roles (admin always)."""
    return caller.role in {*roles, Role.ADMIN}


def chosen(field: str, text: str | None, allowed: tuple[str, ...]) -> str | None:
    """A form's choice among `allowed` (422 naming `field` otherwise); empty: None."""
    if text and text not in allowed:
        raise invalid(field, f"must be one of {', '.join(allowed)}")
    return text or None


def given(**fields: str | None) -> dict[str, str]:
    """The filters a list was asked with (an empty field is not asked), to keep in its links."""
    return {name: value for name, value in fields.items() if value}


def next_page(
    kept: Mapping[str, str], key: str, start: str | int | None, fragment: str = ""
) -> str | None:
    """The link to a keyset-paged list's next page: the filters kept, and `key` where the
    next page starts (none after the last page)."""
    return None if start is None else f"?{urlencode({**kept, key: start})}{fragment}"


# Filled by api/console/__init__.py, in navigation order.
PAGES: list[Page] = []

_NAIVE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2}(\.\d{1,6})?)?$", re.ASCII)


def as_of_of(text: str | None) -> datetime | None:
    """The page's `?as_of=`: as the JSON API reads it, and a time without an offset (what a
    browser's date-time field sends) is UTC, as the form says. Empty: now."""
    offset = _with_offset(text)
    return parse_as_of(offset) if offset is not None else None


def instant_of(text: str | None, field: str) -> datetime | None:
    """A form's instant, read as `as_of_of` reads one (422 naming `field`). Empty: None."""
    offset = _with_offset(text)
    return parse_instant(field, offset) if offset is not None else None


def _with_offset(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    naive = _NAIVE.fullmatch(text)
    if naive is not None:  # the field leaves the seconds out when they are :00
        text = f"{naive[1]}{naive[2] or ':00'}Z"
    return text


def age(since: datetime, now: datetime) -> str:
    """How long from `since` to `now`, in the two largest units: '3 min', '2 h 5 min',
    '1 d 4 h' (0 min when `now` is not later)."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def time_left(due: datetime, now: datetime) -> str:
    """What is left until `due`: '2 d 3 h', or 'overdue by 5 min' once it passed."""
    return age(now, due) if due > now else f"overdue by {age(due, now)}"


def render(
    template: str,
    caller: Caller | None,
    page: Page | None,
    *,
    status_code: int = 200,
    as_of: datetime | None = None,
    **context: Any,
) -> Template:
    return Template(
        template_name=template,
        status_code=status_code,
        context={
            "caller": caller,
            "nav": [p for p in PAGES if p.offered_to(caller)],
            "page": page,
            "as_of": as_of,
            "as_of_value": as_of.strftime("%Y-%m-%dT%H:%M:%S") if as_of else "",
            **context,
        },
    )
