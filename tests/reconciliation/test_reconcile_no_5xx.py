"""Property: no settlement file, query or resolution body makes /reconciliations answer 5xx;
every refusal is problem+json (DESIGN §3). Files are sent as dry runs: nothing is recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from tests.conftest import api_client, services_on_new_database
from tests.reconciliation.records import FILES

Client = TestClient  # type: ignore[type-arg]
SAMPLE = (FILES / "adyen" / "settlement_detail_report_batch_502.csv").read_text()
HEADER, *ROWS = SAMPLE.splitlines()


@pytest.fixture(scope="module")
def client(admin_database_url: str) -> Iterator[Client]:
    with (
        services_on_new_database(admin_database_url) as services,
        api_client(services, "finance") as test_client,
    ):
        yield test_client


def answered_well(response: Any) -> None:
    assert response.status_code < 500, response.text
    assert response.status_code not in (401, 403), response.text  # the key reaches the handler
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert json.loads(response.content)["status"] == response.status_code


cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", ".11", "-0.11", "1e3", "1,50", "EUR", "XYZ", "Captured", '"', "\x00"]),
)


@st.composite
def damaged_files(draw: st.DrawFn) -> str:
    rows = [row.split(",") for row in ROWS]
    for _ in range(draw(st.integers(0, 6))):
        row = draw(st.integers(0, len(rows) - 1))
        column = draw(st.integers(0, len(rows[row]) - 1))
        rows[row][column] = draw(cells)
    text = "\n".join([HEADER, *(",".join(row) for row in rows)]) + "\n"
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


@given(body=st.one_of(st.text(max_size=300), damaged_files()))
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_no_file_gives_a_5xx(client: Client, body: str) -> None:
    response = client.post(
        "/reconciliations/dry-run",
        content=body.encode(),
        headers={"content-type": "text/csv"},
    )
    answered_well(response)


queries = st.dictionaries(
    st.sampled_from(
        ["state", "kind", "run_id", "since", "until", "limit", "offset", "day", "days"]
    ),
    st.one_of(st.text(max_size=12), st.integers(-5, 5000).map(str), st.just("2030-01-01")),
    max_size=4,
)


@given(path=st.sampled_from(["/reconciliations/exceptions", "/reconciliations/summary",
                              "/reconciliations/days"]), params=queries)  # fmt: skip
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_no_query_gives_a_5xx(client: Client, path: str, params: dict[str, str]) -> None:
    answered_well(client.get(path, params=params))


@given(
    body=st.dictionaries(
        st.sampled_from(["action", "reason", "resolved_by", "extra"]),
        st.one_of(st.text(max_size=10), st.integers(), st.none()),
    ),
    run_id=st.one_of(st.from_regex(r"[A-Za-z0-9._~-]{1,40}", fullmatch=True), st.uuids().map(str)),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_no_resolution_gives_a_5xx(client: Client, body: dict[str, Any], run_id: str) -> None:
    answered_well(client.post(f"/reconciliations/{run_id}/exceptions/line-2/resolve", json=body))
