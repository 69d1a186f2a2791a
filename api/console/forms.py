"""What the console's forms share: a posted form's body, its confirmation box, and its fields
checked by the JSON route's body type."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.params import Body as BodyParameter

from payments.api.problems import readable
from payments.api.reads import invalid

Body = TypeVar("Body")
# A form as a browser posts it (URL-encoded), decoded into the Struct named: FormBody[ReasonForm].
FormBody = Annotated[Body, BodyParameter(media_type=RequestEncodingType.URL_ENCODED)]


def confirmed(confirm: str, what: str) -> None:
    """A form's action runs only with its confirmation box ticked (422 otherwise)."""
    if confirm != "yes":
        raise invalid("confirm", f"tick the box to confirm {what}")


def as_json_body(kind: type[Body], field: str, **values: Any) -> Body:
    """A form's fields checked by the JSON route's body type, its message naming `field`."""
    try:
        return msgspec.convert(values, kind)
    except msgspec.ValidationError as error:
        raise invalid(field, readable(str(error))) from None


async def read_form_first(request: Request[Any, Any, Any]) -> None:
    """Before a console handler: read a posted form with the app's request class, which
    refuses U+0000 in a field (api/edge.py, PaymentsRequest.form); the handler's body is
    then decoded from what it read."""
    if request.method == "POST":
        await request.form()
