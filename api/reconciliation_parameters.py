"""The query and path parameters of /reconciliations, declared as the code enforces them
(api/parameters.py explains why), and the day parameters read into dates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar.params import PathParameter, QueryParameter

from payments.api.parameters import ID_MAX_LENGTH, ID_PATTERN, UUID_PATTERN
from payments.api.problems import FieldProblem, ProblemError
from payments.domain.reconciliation.findings import EXCEPTION_KINDS

StateQuery = Annotated[
    Literal["open", "auto_fixed", "resolved", "all"],
    QueryParameter(name="state", description="Which exceptions: open (default), auto_fixed, "
                   "resolved or all."),
]  # fmt: skip
FormatQuery = Annotated[
    Literal["adyen", "stripe", "paypal"] | None,
    QueryParameter(name="format", description="The file's layout; detected from its header "
                   "when absent."),
]  # fmt: skip
LimitQuery = Annotated[int, QueryParameter(ge=1, le=1000)]
OffsetQuery = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]
KindQuery = Annotated[
    str | None, QueryParameter(pattern=f"^({'|'.join(EXCEPTION_KINDS)})$", description="One class.")
]
UuidQuery = Annotated[str | None, QueryParameter(pattern=UUID_PATTERN, max_length=36)]
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _date_query(description: str) -> Any:
    return QueryParameter(
        pattern=DATE_PATTERN,
        max_length=10,
        description=description,
        schema_extra={"format": "date"},
    )


SinceQuery = Annotated[str | None, _date_query("The matter began on or after this day.")]
UntilQuery = Annotated[str | None, _date_query("The matter began on or before this day.")]
DayQuery = Annotated[str | None, _date_query("The day (UTC); default today.")]


def day_of(text: str | None, name: str) -> date | None:
    """A date query parameter (its shape is checked by its declaration); 422 if no such day."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ProblemError(
            422,
            "validation",
            "The request is not valid",
            "One or more fields are invalid; see errors.",
            errors=[FieldProblem(field=name, message=f"{text!r} is not a day (YYYY-MM-DD)")],
        ) from None


IdQuery = Annotated[str | None, QueryParameter(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]


# Any other value than a run's UUID answers 404, as before this declaration.
RunIdPath = Annotated[
    str, PathParameter(description="The run's id, a UUID.", schema_extra={"format": "uuid"})
]
FindingIdPath = Annotated[
    str, PathParameter(pattern=r"^[A-Za-z0-9_.:-]+$", min_length=1, max_length=160)
]
