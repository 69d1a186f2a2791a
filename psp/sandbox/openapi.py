"""The sandbox's OpenAPI document (`/schema/openapi.json`) and the pieces routes declare it with.

Every operation names its id, tag and summary in its decorator and lists its answers with
`answers(...)`: the success bodies (msgspec Structs) and every problem status it can give, all
as `application/problem+json` with the `Problem` schema. The bearer scheme is always declared;
it is enforced only once the sandbox has an API key (until then the document says so by also
allowing anonymous calls).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

# Litestar's own Struct schema plugin, extended below; it has no public import path in 2.x.
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    Components,
    Link,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
    SecurityScheme,
    Tag,
)
from litestar.params import HeaderParameter, PathParameter, QueryParameter
from litestar.typing import FieldDefinition

from payments.psp.sandbox.credentials import BEARER_SCHEME
from payments.psp.sandbox.problems import PROBLEM_MEDIA_TYPE, Problem

TAGS: dict[str, str] = {
    "tokens": "Card tokenisation: the card number goes in once, a token comes out.",
    "hosted page": "A plain HTML card form that tokenises a card (public, like a publishable key).",
    "charges": "Charging a tokenised card, idempotent by key; look-up by id and by reference.",
    "refunds": "Refunds of succeeded charges, idempotent by key; never more than the charge.",
    "disputes": "Chargebacks: opened by the card network, answered with evidence.",
    "accounts": "Sellers with KYC status.",
    "bank tokens": "Bank details tokenised like cards; only the last four digits come back.",
    "payouts": "Money out to a destination (a bank token or a test destination).",
    "balance": "The money the PSP holds for us, available and pending.",
    "settlements": "Daily settlement files in Adyen's settlement details report layout.",
    "events": "Webhook events as recorded, with their deliveries.",
    "admin": "Test controls: faults, resets, counters, dispute and KYC outcomes.",
    "health": "Liveness.",
}

IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        pattern=r"^[!-~]{1,255}$",
        description="1 to 255 visible ASCII characters. The same key with the same body replays"
        " the first answer (with `Idempotent-Replayed: true`); with another body it is a 422.",
    ),
]

ReferenceQuery = Annotated[
    str, QueryParameter(min_length=1, max_length=64, description="our reference, as sent on create")
]
CurrencyQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code",
        # A query parameter is absent or a string, never null: the string schema alone.
        schema_extra={"type": OpenAPIType.STRING, "oneOf": None},
    ),
]

ChargeQuery = Annotated[
    str, QueryParameter(pattern=r"^ch_[A-Za-z0-9]{24}$", description="a charge id")
]
ObjectId = Annotated[
    str, PathParameter(min_length=1, max_length=128, description="an id the sandbox gave")
]

UNAUTHORISED = {401: "no bearer API key, or a wrong one (only once the sandbox has a key)"}
BAD_BODY = {
    400: "the body is not JSON",
    413: "the body is larger than the limit",
    422: "the body does not validate (the problem's errors name the field)",
}
BAD_PARAMETERS = {400: "a path, query or header parameter does not validate"}
IDEMPOTENT = {
    400: "the Idempotency-Key header is missing or malformed",
    409: "a request with this Idempotency-Key is still in flight; retry later",
    422: "this Idempotency-Key was used with a different body",
}
LYING_FAULTS = {
    400: "injected fault key_conflict_400: recorded, but answered as a key conflict",
    404: "injected fault charged_but_404: recorded, but answered 404",
    500: "injected fault charged_but_500: recorded, but answered 500",
}
REQUEST_FAULTS = {
    429: "injected fault (status), with Retry-After",
    500: "injected fault (status)",
    502: "injected fault (status)",
    503: "injected fault (status), with Retry-After",
    504: "injected fault (timeout, after the configured delay; or status)",
}


def answers(
    success: Mapping[int, tuple[Any, str]],
    *problem_sets: Mapping[int, str],
    public: bool = False,
    media_type: str = "application/json",
) -> dict[int, ResponseSpec]:
    """The documented answers of one operation: its bodies by status, then its problems.

    Descriptions of one status from several sets are joined; protected operations also list 401.
    """
    responses = {
        status: ResponseSpec(
            data_container=body, description=text, media_type=media_type, generate_examples=False
        )
        for status, (body, text) in success.items()
    }
    problems: dict[int, list[str]] = {}
    for problem_set in problem_sets if public else (UNAUTHORISED, *problem_sets):
        for status, text in problem_set.items():
            problems.setdefault(status, []).append(text)
    for status, texts in sorted(problems.items()):
        responses[status] = ResponseSpec(
            data_container=Problem,
            description="; ".join(texts),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
    return responses


def follow(operation_id: str, body: Mapping[str, Any] | None = None, **parameters: str) -> Link:
    """A link to `operation_id`, its parameters (and body fields) taken from this answer, e.g.
    `follow("getCharge", charge_id="$response.body#/id")`."""
    return Link(operation_id=operation_id, parameters=parameters or None, request_body=body)


def with_links(links: Mapping[int, Mapping[str, Link]]) -> type[Operation]:
    """An operation class whose answers carry OpenAPI links, by status.

    Litestar 2 has no other place to declare links; they let a client (and schemathesis's
    stateful phase) follow a created object to the calls that use it.
    """

    @dataclass
    class LinkedOperation(Operation):
        def __post_init__(self) -> None:
            for status, named in links.items():
                response = (self.responses or {}).get(str(status))
                if isinstance(response, OpenAPIResponse):
                    response.links = dict(named)

    return LinkedOperation


def security_requirements(api_key_configured: bool) -> list[dict[str, list[str]]]:
    """Bearer always; without a configured key an empty requirement says anonymous calls work."""
    return [{BEARER_SCHEME: []}] if api_key_configured else [{BEARER_SCHEME: []}, {}]


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's Struct schemas, plus `additionalProperties: false` where msgspec refuses
    unknown fields, so that the document promises exactly what the decoder accepts."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        one_of = getattr(field_definition.type_, "openapi_one_of", None)
        if one_of:  # a rule between fields that the Struct cannot state (see BankTokenRequest)
            schema.one_of = [_schema_of(branch) for branch in one_of]
        return schema


def _schema_of(data: Mapping[str, Any]) -> Schema:
    """A plain JSON Schema written as a dict, as Litestar's Schema object."""
    properties = data.get("properties")
    return Schema(
        type=OpenAPIType(data["type"]) if "type" in data else None,
        required=data.get("required"),
        properties={name: _schema_of(value) for name, value in properties.items()}
        if properties
        else None,
    )


def openapi_config(api_key_configured: bool) -> OpenAPIConfig:
    enforced = "is required" if api_key_configured else "is not required (no key is configured)"
    return OpenAPIConfig(
        title="PSP sandbox",
        version="1.0.0",
        description="A card PSP imitating Stripe's and Adyen's public APIs, for tests."
        " Errors are RFC 9457 problem documents. Amounts are integers of minor units.",
        path="/schema",
        render_plugins=[JsonRenderPlugin()],
        use_handler_docstrings=True,
        tags=[Tag(name=name, description=text) for name, text in TAGS.items()],
        components=Components(
            security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="The sandbox's API key as `Authorization: Bearer <key>`. It is"
                    " enforced only once the sandbox was started with --api-key-file or"
                    f" PSP_SANDBOX_API_KEY; this sandbox's key {enforced}.",
                )
            }
        ),
    )
