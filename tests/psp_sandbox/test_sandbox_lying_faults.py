"""Faults for "a 4xx that is not final": the call is recorded, the answer says otherwise."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.psp_sandbox.conftest import ChargeMaker, SandboxProcess, TokenMaker, table_counts

LIES = [("charged_but_404", 404, "Not found"), ("key_conflict_400", 400, "Idempotency key reused")]
ENDPOINTS = ["accounts", "charges", "payouts", "refunds"]  # each stores in the table of its name


def _create_body(endpoint: str, make_token: TokenMaker, make_charge: ChargeMaker) -> dict[str, Any]:
    reference = "lied_about"
    if endpoint == "charges":
        return {"amount": 700, "currency": "USD", "token": make_token(), "reference": reference}
    if endpoint == "payouts":
        return {"amount": 700, "currency": "USD", "destination": "seller", "reference": reference}
    if endpoint == "refunds":
        return {"charge": make_charge(amount=700)["id"], "reference": reference}
    return {"reference": reference, "name": "Shop", "country": "FR", "id_number": "000000000"}


@pytest.mark.parametrize(("kind", "status", "title"), LIES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_lying_fault_records_the_call_and_a_look_up_tells_the_truth(
    sandbox: SandboxProcess,
    client: httpx.Client,
    make_token: TokenMaker,
    make_charge: ChargeMaker,
    endpoint: str,
    kind: str,
    status: int,
    title: str,
) -> None:
    body = _create_body(endpoint, make_token, make_charge)
    rule = {"kind": kind, "endpoint": endpoint, "count": 1}
    assert client.post("/admin/faults", json=rule).status_code == 201
    headers = {"Idempotency-Key": "lie-key"}
    lie = client.post(f"/v1/{endpoint}", json=body, headers=headers)
    assert (lie.status_code, lie.json()["title"]) == (status, title)
    assert lie.headers["content-type"].startswith("application/problem+json")
    assert table_counts(sandbox.db_path)[endpoint] == 1
    found = client.get(f"/v1/{endpoint}", params={"reference": "lied_about"})
    assert found.status_code == 200
    (recorded,) = found.json()["data"]
    truth = client.post(f"/v1/{endpoint}", json=body, headers=headers)
    assert truth.status_code in (201, 202)
    assert truth.headers["Idempotent-Replayed"] == "true"
    # The same object: a payout's state moves on with time, so compare what cannot change.
    stable = [key for key in ("id", "reference", "amount", "charge") if key in recorded]
    assert {key: truth.json()[key] for key in stable} == {key: recorded[key] for key in stable}
    assert len(stable) >= 2
    assert client.get("/admin/faults").json()["faults"] == []


def test_a_lie_aimed_at_one_endpoint_leaves_the_others_alone(
    client: httpx.Client, make_token: TokenMaker
) -> None:
    rule = {"kind": "charged_but_404", "endpoint": "payouts", "count": 1}
    assert client.post("/admin/faults", json=rule).status_code == 201
    body = {"amount": 700, "currency": "USD", "token": make_token(), "reference": "honest"}
    answer = client.post("/v1/charges", json=body, headers={"Idempotency-Key": "honest"})
    assert answer.status_code == 201
    assert len(client.get("/admin/faults").json()["faults"]) == 1
