"""The three routes every created object of the sandbox has (charges, payouts, refunds, accounts).

`POST /v1/<things>` creates one once per Idempotency-Key (`create_once`, with the resource's
own `record`); `GET /v1/<things>/{<thing>_id}` looks one up by id; `GET /v1/<things>?reference=`
lists those made for one of our references, oldest first (404 when there are none). Their
paths, operation ids, parameters and answers are the resource's name put into one pattern, so
that a client (and schemathesis's stateful phase) finds the same shape everywhere.
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Link
from litestar.params import JSONBody

from payments.psp.sandbox.bodies import StrictBody
from payments.psp.sandbox.idempotency import BodyType, Outcome, create_once, store_answer
from payments.psp.sandbox.lifecycle import schedule_transition
from payments.psp.sandbox.lookups import not_found
from payments.psp.sandbox.openapi import (
    BAD_BODY,
    BAD_PARAMETERS,
    IDEMPOTENT,
    LYING_FAULTS,
    REQUEST_FAULTS,
    IdempotencyKey,
    ObjectId,
    ReferenceQuery,
    answers,
    follow,
    with_links,
)
from payments.psp.sandbox.problems import ProblemError
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.webhooks import enqueue_event


@dataclass(frozen=True)
class Resource(Generic[BodyType]):
    """One kind of object the sandbox creates, and what its routes say of it."""

    thing: str  # "charge": its table is "charges", its tag and path "/v1/charges"
    request: type[BodyType]
    view: type[Any]  # what GET answers, e.g. ChargeView
    listing: type[Any]  # the list answer, made as listing("list", views)
    record: Callable[[Sandbox, str, str, BodyType], Outcome]
    view_of: Callable[[sqlite3.Row], Any]
    summary: str  # the create call's
    description: str  # the create call's
    created: Mapping[int, tuple[Any, str]]  # the create call's answers
    refused: str  # when the create call answers 422
    links: Mapping[str, Link] = field(default_factory=dict)  # beyond get and byReference
    references: str = "our references"  # whose references the list is looked up by

    @property
    def things(self) -> str:
        return f"{self.thing}s"

    @property
    def name(self) -> str:
        return self.thing.capitalize()


def resource_routes(sandbox: Sandbox, resource: Resource[Any]) -> list[HTTPRouteHandler]:
    """Create (idempotent), look up by id and list by reference, for one resource."""
    things, name, id_name = resource.things, resource.name, f"{resource.thing}_id"
    follows = {
        "get": follow(f"get{name}", None, **{id_name: "$response.body#/id"}),
        "byReference": follow(f"list{name}sByReference", reference="$response.body#/reference"),
        **resource.links,
    }

    async def create(
        request: Request[Any, Any, Any], data: Any, idempotency_key: IdempotencyKey
    ) -> Response[bytes]:
        return await create_once(sandbox, request, things, idempotency_key, data, resource.record)

    async def get_one(**path: str) -> Any:
        (object_id,) = path.values()
        row = sandbox.store.fetch_one(f"SELECT * FROM {things} WHERE id = ?", (object_id,))
        if row is None:
            raise not_found(resource.thing, object_id)
        return resource.view_of(row)

    async def by_reference(reference: ReferenceQuery) -> Any:
        rows = sandbox.store.fetch_all(
            f"SELECT * FROM {things} WHERE reference = ? ORDER BY created_at, id", (reference,)
        )
        if not rows:
            detail = f"no {resource.thing} for reference {reference!r}"
            raise ProblemError(404, f"{name} not found", detail)
        return resource.listing("list", [resource.view_of(row) for row in rows])

    # Litestar reads each handler's parameters and answer from its annotations and signature:
    # they name this resource's types, and the path parameter its id (e.g. charge_id).
    create.__annotations__ = {
        "request": Request[Any, Any, Any],
        "data": JSONBody[resource.request],  # type: ignore[misc,name-defined]
        "idempotency_key": IdempotencyKey,
        "return": Response[bytes],
    }
    id_parameter = inspect.Parameter(id_name, inspect.Parameter.KEYWORD_ONLY)
    get_one.__signature__ = inspect.Signature([id_parameter])  # type: ignore[attr-defined]
    get_one.__annotations__ = {id_name: ObjectId, "return": resource.view}
    by_reference.__annotations__ = {"reference": ReferenceQuery, "return": resource.listing}
    for handler, handler_name in (
        (create, f"create_{resource.thing}"),
        (get_one, f"get_{resource.thing}"),
        (by_reference, f"list_{things}_by_reference"),
    ):
        handler.__name__ = handler.__qualname__ = handler_name

    def look_up(
        path: str, operation_id: str, summary: str, found: tuple[type[Any], str], missing: str
    ) -> get:
        return get(
            path,
            operation_id=operation_id,
            tags=[things],
            summary=summary,
            responses=answers({200: found}, BAD_PARAMETERS, {404: missing}),
        )

    return [
        post(
            f"/v1/{things}",
            operation_id=f"create{name}",
            operation_class=with_links(
                {status: follows for status in resource.created if status // 100 == 2}
            ),
            tags=[things],
            summary=resource.summary,
            description=resource.description,
            dto=StrictBody[resource.request],  # type: ignore[name-defined]
            responses=answers(
                resource.created,
                BAD_BODY,
                IDEMPOTENT,
                REQUEST_FAULTS,
                LYING_FAULTS,
                {422: resource.refused},
            ),
        )(create),
        look_up(
            f"/v1/{things}/{{{id_name}:str}}",
            f"get{name}",
            f"Look up a{'n' if name[0] in 'AEIOU' else ''} {resource.thing} by id",
            (resource.view, f"the {resource.thing}"),
            f"no such {resource.thing}",
        )(get_one),
        look_up(
            f"/v1/{things}",
            f"list{name}sByReference",
            f"Look up the {things} made for one of {resource.references}",
            (resource.listing, f"the {things}, oldest first"),
            f"no {resource.thing} has this reference",
        )(by_reference),
    ]


def answer_created(
    sandbox: Sandbox,
    connection: sqlite3.Connection,
    key: str,
    hashed: str,
    thing: str,
    view: Any,
    status_code: int,
) -> Outcome:
    """Store a new charge's or refund's answer under its key, then its next step: a pending
    one succeeds `pending_delay_s` later; any other sends its `<thing>.<status>` webhook now."""
    outcome = store_answer(connection, f"{thing}s", key, hashed, status_code, view)
    if view.status == "pending":
        delay = sandbox.config.pending_delay_s
        schedule_transition(connection, thing, view.id, "succeeded", delay)
    else:
        enqueue_event(connection, sandbox.faults, f"{thing}.{view.status}", view)
    return outcome
