"""The OpenAPI document: what Litestar cannot say from a handler's signature, said once.

Per route: `**spec(operation_id, summary, problems=...)` names the operation, lists the problems
it can answer (`problem_specs`, api/problems.py) and runs the sync handler on a worker thread;
`success(...)` documents a body a handler sends as pre-encoded bytes, and
`operation(links=..., headers=..., request_body=...)` adds OpenAPI links, response headers
and a raw request body. For the whole document, `finish_document` states
`additionalProperties: false` for every request type that refuses unknown fields, and drops
the `null` alternative Litestar writes into optional parameters (an absent parameter is how
OpenAPI says "none").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Link,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)

from payments.api.openapi_text import request_bodies, state_no_nul
from payments.api.problems import problem_specs
from payments.domain.money import currency_exponent

JSON = "application/json"


def spec(
    operation_id: str,
    summary: str,
    *,
    problems: tuple[int, ...] = (),
    answers: Mapping[int, ResponseSpec] | None = None,
) -> dict[str, Any]:
    """What the decorator of every sync JSON route says besides its path and access: the
    operation's id and summary, its documented answers (`answers`, then the `problems` it can
    give besides those of every route) and that the handler runs on a worker thread."""
    return {
        "operation_id": operation_id,
        "summary": summary,
        "sync_to_thread": True,
        "responses": {**(answers or {}), **problem_specs(*problems)},
    }


def success(model: type[Any], description: str, media_type: str = JSON) -> ResponseSpec:
    """A success answer a handler sends as bytes (e.g. a replayed idempotent answer)."""
    return ResponseSpec(
        data_container=model,
        description=description,
        media_type=media_type,
        generate_examples=False,
    )


def created_or_existing(model: type[Any], created: str, existing: str) -> dict[int, ResponseSpec]:
    """The success answers of an idempotent creating POST: 201 with what it created, 200 with
    what the same request created before."""
    return {201: success(model, created), 200: success(model, existing)}


def header(description: str, *, required: bool, integer: bool = False) -> OpenAPIHeader:
    kind = OpenAPIType.INTEGER if integer else OpenAPIType.STRING
    return OpenAPIHeader(schema=Schema(type=kind), description=description, required=required)


def write_headers(
    location: str, position: str = "Position of the write", *, position_required: bool = True
) -> dict[str, OpenAPIHeader]:
    """The headers of an answer to a write: the written thing's URL (Location) and the write's
    event position (Event-Position)."""
    return {
        "location": header(location, required=True),
        "event-position": header(position, required=position_required, integer=True),
    }


def link(operation_id: str, description: str, **parameters: str) -> Link:
    """A link from an answer to another operation, its parameters taken from the answer."""
    return Link(operation_id=operation_id, parameters=dict(parameters), description=description)


def raw_body(
    media_types: tuple[str, ...], description: str, schema: Schema | None = None
) -> RequestBody:
    """A body a handler reads itself (a stream, or bytes checked before parsing)."""
    content = schema or Schema(type=OpenAPIType.STRING, min_length=1)
    return RequestBody(
        content={media_type: OpenAPIMediaType(schema=content) for media_type in media_types},
        description=description,
        required=True,
    )


def operation(
    *,
    links: Mapping[int, Mapping[str, Link]] | None = None,
    headers: Mapping[int, Mapping[str, OpenAPIHeader]] | None = None,
    request_body: RequestBody | None = None,
) -> type[Operation]:
    """An Operation class (a route's `operation_class=`) that adds links, headers, a body."""

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            if request_body is not None:
                self.request_body = request_body
            for status, response in (self.responses or {}).items():
                if not isinstance(response, OpenAPIResponse):
                    continue
                if links and int(status) in links:
                    response.links = dict(links[int(status)])
                if headers and int(status) in headers:
                    response.headers = {**(response.headers or {}), **headers[int(status)]}

    return DocumentedOperation


def created_or_replayed(
    links: Mapping[str, Link], headers: Mapping[str, OpenAPIHeader]
) -> type[Operation]:
    """The operation of a creating POST that answers 201 (created) or 200 (created before,
    replayed): both link to what was created; 201 carries `headers`, 200 its Location."""
    return operation(
        links={201: links, 200: links},
        headers={201: headers, 200: {"location": headers["location"]}},
    )


# Request fields that carry an amount or the currency: their rules depend on the deployment.
AMOUNT_FIELDS = (
    ("PaymentOrderRequest", "amount"),
    ("PayoutRequestBody", "amount"),
    ("RefundRequestBody", "amount"),
)
CURRENCY_FIELDS = (("PaymentOrderRequest", "currency"),)


def finish_document(
    app: Litestar,
    currency: str,
    examples: Mapping[str, Any],
    rules: Mapping[str, Callable[[Schema], None]],
) -> OpenAPI:
    """Complete the app's OpenAPI document in place (it is built once, then served);
    `rules` state a component's rules between fields (if/then/else), by its name."""
    document = app.openapi_schema
    schemas = document.components.schemas or {}
    for name, example in examples.items():
        if name in schemas:
            schemas[name].examples = [example]
    for name, state in rules.items():
        if name in schemas:
            state(schemas[name])
    exponent = currency_exponent(currency)
    fraction = rf"(\.[0-9]{{1,{exponent}}})?" if exponent else ""
    for component, field in AMOUNT_FIELDS:
        if (found := _property(schemas, component, field)) is not None:
            found.pattern = rf"^(0|[1-9][0-9]*){fraction}$"
            found.description = (
                f"Decimal string in {currency} with at most {exponent} decimal places, digits "
                'only (no sign, exponent or separators), greater than zero: "10.50".'
            )
    for component, field in CURRENCY_FIELDS:
        if (found := _property(schemas, component, field)) is not None:
            found.pattern = None
            found.enum = [currency]
            found.description = "The deployment's currency (ISO 4217)."
    for name in _strict_struct_names():
        schema = schemas.get(name)
        if schema is not None:
            schema.additional_properties = False
    for parameter in _parameters(document):
        if isinstance(parameter.schema, Schema):
            parameter.schema = _without_null(parameter.schema)
    for _, body in request_bodies(document):
        # A body declared `X | None = None` may be left out; Litestar marks it required.
        if body.content and all(_admits_null(m.schema) for m in body.content.values()):
            body.required = False
    state_no_nul(document)
    return document


def _admits_null(schema: Schema | Reference | None) -> bool:
    branches = (schema.one_of or []) if isinstance(schema, Schema) else []
    return any(isinstance(b, Schema) and b.type == OpenAPIType.NULL for b in branches)


def _property(schemas: Mapping[str, Schema], component: str, field: str) -> Schema | None:
    schema = schemas.get(component)
    found = (schema.properties or {}).get(field) if schema is not None else None
    if isinstance(found, Schema) and found.one_of:  # an optional field: its string branch
        strings = [s for s in found.one_of if isinstance(s, Schema) and s.type == "string"]
        found = strings[0] if strings else None
    return found if isinstance(found, Schema) else None


def _strict_struct_names() -> Iterator[str]:
    """Names of the msgspec Structs that refuse unknown fields (the component names)."""
    pending: list[type[msgspec.Struct]] = [msgspec.Struct]
    while pending:
        struct = pending.pop()
        pending.extend(struct.__subclasses__())
        config = getattr(struct, "__struct_config__", None)
        if config is not None and config.forbid_unknown_fields:
            yield struct.__name__


def _parameters(document: OpenAPI) -> Iterator[Parameter]:
    for path_item in (document.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch", "options", "head"):
            found = getattr(path_item, method, None)
            if isinstance(found, Operation):
                for parameter in found.parameters or []:
                    if isinstance(parameter, Parameter):
                        yield parameter


def _without_null(schema: Schema) -> Schema:
    """`oneOf: [X, {type: null}]` plus constraints beside it → X with those constraints."""
    alternatives = [
        s for s in schema.one_of or [] if not (isinstance(s, Schema) and s.type == OpenAPIType.NULL)
    ]
    if schema.one_of is None or len(alternatives) != 1 or not isinstance(alternatives[0], Schema):
        return schema
    merged = alternatives[0]
    for name, value in vars(schema).items():
        if name != "one_of" and value is not None and getattr(merged, name, None) is None:
            setattr(merged, name, value)
    return merged
