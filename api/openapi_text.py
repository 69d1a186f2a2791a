"""The OpenAPI document states what api/edge.py refuses: no string in a JSON body holds U+0000.

A string a request body may carry gets the pattern NO_NUL unless it has a pattern of its own
(ours admit no control character), and so does every key of an object that takes any keys
of one kind. A value that may be any JSON (a checkout's `buyer_info`) stays so: the edge
does not search it, since it is sealed and stored as ciphertext only. So a client that
generates bodies from the document (schemathesis) sends none that the edge refuses while the
document allows it.
"""

from __future__ import annotations

from collections.abc import Iterator

from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

NO_NUL = "^[^\\u0000]*$"
_REF_PREFIX = "#/components/schemas/"
# Routes whose body api/edge.py does not read: a signed webhook is checked as bytes first.
_RAW_BODIES = ("/webhooks/",)


def state_no_nul(document: OpenAPI) -> None:
    """Add the patterns to every request body's schemas, in place (see the module)."""
    schemas = document.components.schemas if document.components else None
    if schemas is None:
        return
    pending: list[Schema | Reference] = list(_json_body_schemas(document))
    seen: set[str] = set()
    while pending:
        schema = pending.pop()
        if isinstance(schema, Reference):
            name = schema.ref.removeprefix(_REF_PREFIX)
            if name not in seen and isinstance(found := schemas.get(name), Schema):
                seen.add(name)
                pending.append(found)
            continue
        if _is_string(schema) and schema.pattern is None and schema.enum is None:
            schema.pattern = NO_NUL
        extra = schema.additional_properties
        if isinstance(extra, Schema) and not any(v is not None for v in vars(extra).values()):
            continue  # any JSON: buyer_info, which the edge leaves alone (it is sealed)
        if extra not in (None, False) and schema.property_names is None:
            schema.property_names = Schema(pattern=NO_NUL)
        pending.extend(_children(schema))


def request_bodies(document: OpenAPI) -> Iterator[tuple[str, RequestBody]]:
    """(path, request body) of every operation that declares one inline."""
    for path, item in (document.paths or {}).items():
        for method in ("post", "put", "patch"):
            operation = getattr(item, method, None)
            body = operation.request_body if isinstance(operation, Operation) else None
            if isinstance(body, RequestBody):
                yield path, body


def _json_body_schemas(document: OpenAPI) -> Iterator[Schema | Reference]:
    for path, body in request_bodies(document):
        if not path.startswith(_RAW_BODIES):
            for media_type, content in body.content.items():
                if media_type.endswith("json") and content.schema is not None:
                    yield content.schema


def _is_string(schema: Schema) -> bool:
    kinds = schema.type if isinstance(schema.type, list | tuple) else [schema.type]
    return OpenAPIType.STRING in kinds


def _children(schema: Schema) -> Iterator[Schema | Reference]:
    yield from (schema.properties or {}).values()
    for group in (schema.one_of, schema.any_of, schema.all_of, schema.prefix_items):
        yield from group or ()
    for single in (schema.items, schema.additional_properties):
        if isinstance(single, Schema | Reference):
            yield single
