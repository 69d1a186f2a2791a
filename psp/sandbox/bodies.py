"""Request bodies decoded strictly by msgspec, and described in the OpenAPI document.

Litestar converts a handler's `data` leniently (`"5"` would become 5); a PSP's edge must not.
`StrictBody.of(SomeStruct)` is a Litestar DTO whose only job is to hand the raw bytes to
`problems.decode_json` (strict, unknown fields refused, errors as 422 problems naming the field)
and to give the OpenAPI document the Struct's schema. It never shapes responses.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar.dto import AbstractDTO, DTOConfig, DTOFieldDefinition
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from payments.psp.sandbox.problems import decode_json

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

BodyType = TypeVar("BodyType")


class StrictBody(AbstractDTO[BodyType]):
    """A DTO that decodes with msgspec in strict mode into `model_type` (a Struct or a union)."""

    config = DTOConfig()

    @classmethod
    def of(cls, body_type: Any) -> type[StrictBody[Any]]:
        """The DTO for `body_type`; unlike `StrictBody[T]` this also accepts a union."""
        name = getattr(body_type, "__name__", None) or repr(body_type)
        return type(f"StrictBody[{name}]", (cls,), {"model_type": body_type})

    def decode_bytes(self, value: bytes) -> Any:
        return decode_json(value, self.model_type)

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        return decode_json(msgspec.json.encode(value), self.model_type)

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        """Nothing to build: decoding needs no per-handler backend."""

    @classmethod
    def is_supported_model_type_field(cls, field_definition: FieldDefinition) -> bool:
        return False  # request bodies only; answers are encoded as handlers return them

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False
