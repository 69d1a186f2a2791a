"""API keys over HTTP, for admin keys: create, list, revoke, rotate (DESIGN §11)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import JSONBody, PathParameter

from payments.api.auth import access
from payments.api.openapi import spec
from payments.api.parameters import CallerDep, ServicesDep
from payments.api.schemas import Duration, Identifier, Reason, duration
from payments.domain.api_key import MAX_NAME_LENGTH, Role

KeyId = Annotated[
    str,
    PathParameter(
        pattern=r"^[a-z2-7]{12}$", min_length=12, max_length=12, description="A key's id"
    ),
]


class CreateKeyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A seller key names its seller_account; no other key does (the domain's rule, stated
    in the OpenAPI document by state_seller_key_rule)."""

    role: Role
    seller_account: Identifier | None = None
    name: Annotated[
        str,
        msgspec.Meta(
            max_length=MAX_NAME_LENGTH,
            pattern=r"^[^\x00-\x1f]*$",
            description="Printable: no control character.",
        ),
    ] = ""


def state_seller_key_rule(schema: Schema) -> None:
    """The rule between role and seller_account, in JSON Schema's if/then/else."""
    schema.schema_if = Schema(
        properties={"role": Schema(const=Role.SELLER.value)}, required=["role"]
    )
    schema.then = Schema(
        required=["seller_account"], properties={"seller_account": Schema(type=OpenAPIType.STRING)}
    )
    schema.schema_else = Schema(properties={"seller_account": Schema(type=OpenAPIType.NULL)})


class RotateKeyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    grace: Duration = "24h"


class RevokeKeyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason = "revoked by admin"


class NewKeyResponse(msgspec.Struct, frozen=True):
    """The key itself is in this answer only: store it now."""

    key: str
    id: str
    role: str
    seller_account: str | None
    replaces: str | None = None


class KeyView(msgspec.Struct, frozen=True):
    id: str
    role: str
    seller_account: str | None
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    expires_at: datetime | None
    replaced_by: str | None


class KeyList(msgspec.Struct, frozen=True):
    keys: list[KeyView]


class KeysController(Controller):
    path = "/keys"
    tags = ["keys"]

    @post(
        "/",
        **spec("createApiKey", "Create an API key (shown once in the answer)", problems=(409, 422)),
        status_code=201,
        **access(),
    )
    def create_key(
        self, data: JSONBody[CreateKeyRequest], services: ServicesDep, caller: CallerDep
    ) -> Response[NewKeyResponse]:
        key, _ = services.issue_key(data.role, data.seller_account, data.name, by=caller.key_id)
        body = NewKeyResponse(key.text, key.key_id, data.role.value, data.seller_account)
        return Response(body, status_code=201, headers={"cache-control": "no-store"})

    @get("/", **spec("listApiKeys", "Every key (never a secret)"), **access())
    def list_keys(self, services: ServicesDep) -> KeyList:
        return KeyList(
            [
                KeyView(
                    id=row.key_id,
                    role=row.role,
                    seller_account=row.seller_account,
                    name=row.name,
                    created_at=row.created_at,
                    created_by=row.created_by,
                    revoked_at=row.revoked_at,
                    expires_at=row.expires_at,
                    replaced_by=row.replaced_by,
                )
                for row in services.key_list()
            ]
        )

    @post(
        "/{key_id:str}/revoke",
        **spec("revokeApiKey", "Revoke a key now", problems=(404, 409, 422)),
        status_code=200,
        **access(),
    )
    def revoke_key(
        self,
        key_id: KeyId,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[RevokeKeyRequest | None] = None,
    ) -> dict[str, str]:
        reason = (data or RevokeKeyRequest()).reason
        services.key_commands.revoke(key_id, by=caller.key_id, reason=reason)
        services.key_ring.forget(key_id)
        return {"id": key_id, "state": "revoked"}

    @post(
        "/{key_id:str}/rotate",
        **spec(
            "rotateApiKey",
            "A new key with the same role; the old one works for the grace period",
            problems=(404, 409, 422),
        ),
        status_code=201,
        **access(),
    )
    def rotate_key(
        self,
        key_id: KeyId,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[RotateKeyRequest | None] = None,
    ) -> Response[NewKeyResponse]:
        grace = duration((data or RotateKeyRequest()).grace, "grace")
        key, role = services.rotate_key(key_id, grace, by=caller.key_id)
        old = services.key_commands.get(key_id)
        body = NewKeyResponse(key.text, key.key_id, role.value, old.seller_account, key_id)
        return Response(body, status_code=201, headers={"cache-control": "no-store"})
