from __future__ import annotations

import io
from typing import Any

import httpx

from payments.psp.settlement import SettlementLine, iter_settlement_lines
from tests.psp_sandbox.conftest import (
    ChargeMaker,
    SandboxProcess,
    SandboxStarter,
    WebhookReceiver,
)
from tests.waiting import wait_until


def _balance(client: httpx.Client) -> tuple[int, int]:
    balance = client.get("/v1/balance").json()
    assert balance["object"] == "balance"
    (available,) = [item for item in balance["available"] if item["currency"] == "USD"]
    (pending,) = [item for item in balance["pending"] if item["currency"] == "USD"]
    return available["amount"], pending["amount"]


def _files(client: httpx.Client) -> dict[str, bytes]:
    days = [entry["date"] for entry in client.get("/v1/settlements").json()["data"]]
    return {day: client.get(f"/v1/settlements/{day}.csv").content for day in days}


def _lines(files: dict[str, bytes]) -> list[SettlementLine]:
    return [
        line
        for content in files.values()
        for line in iter_settlement_lines(io.StringIO(content.decode()), currency="USD", exponent=2)
    ]


def _post(client: httpx.Client, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    answer = client.post(path, json=body, headers={"Idempotency-Key": key})
    assert answer.status_code in (200, 201, 202), answer.text
    return dict(answer.json())


def test_a_new_sandbox_has_a_zero_balance_in_its_currency(client: httpx.Client) -> None:
    assert client.get("/v1/balance").json() == {
        "object": "balance",
        "available": [{"amount": 0, "currency": "USD"}],
        "pending": [{"amount": 0, "currency": "USD"}],
    }


def test_balance_and_settlement_lines_add_up_for_refunds_disputes_and_payouts(
    sandbox: SandboxProcess,
    client: httpx.Client,
    make_charge: ChargeMaker,
    webhook_receiver: WebhookReceiver,
) -> None:
    a = make_charge(amount=10_000, reference="order_a")  # fee 290 + 30: net 9680
    b = make_charge(amount=5_000, reference="order_b")  # fee 145 + 30: net 4825
    c = make_charge(amount=2_000, reference="order_c")  # fee 58 + 30: net 1912
    d = make_charge(amount=3_000, reference="order_d")  # fee 87 + 30: net 2883
    make_charge("4000000000000002", amount=9_999, reference="declined")
    refund_body = {"charge": a["id"], "amount": 2_500, "reference": "refund_a"}
    refund = _post(client, "/v1/refunds", refund_body, "rf-a")
    disputes = {
        charge["reference"]: client.post("/admin/disputes", json={"charge": charge["id"]}).json()
        for charge in (b, c, d)
    }
    for reference, outcome in (("order_b", "lost"), ("order_c", "won"), ("order_d", "won")):
        closed = client.post(
            f"/admin/disputes/{disputes[reference]['id']}/close", json={"outcome": outcome}
        )
        assert closed.json()["status"] == outcome
    assert client.post(f"/admin/disputes/{disputes['order_d']['id']}/reopen").status_code == 200
    for key, amount, destination in (("po-1", 1_000, "seller_1"), ("po-2", 700, "return_x")):
        body = {"amount": amount, "currency": "USD", "destination": destination, "reference": key}
        _post(client, "/v1/payouts", body, key)
    webhook_receiver.wait_for_event("payout.returned")
    wait_until(lambda: _balance(client)[1] == 0)

    expected = 9680 - 2500 + 4825 - (5000 + 1500) + 1912 - 1500 + 2883 - (3000 + 1500) - 1000
    assert expected == 3300
    assert _balance(client) == (3300, 0)

    files = _files(client)
    assert _files(client) == files  # same state, byte-identical files
    lines = _lines(files)
    by_type: dict[str, list[SettlementLine]] = {}
    for line in lines:
        by_type.setdefault(line.type, []).append(line)
    assert {kind: len(found) for kind, found in by_type.items()} == {
        "Settled": 4,
        "Refunded": 1,
        "Chargeback": 3,
        "Fee": 3,
        "ChargebackReversed": 2,
        "SecondChargeback": 1,
        "Balancetransfer": 3,
        "MerchantPayout": len(files),
    }
    (refunded,) = by_type["Refunded"]
    assert (refunded.psp_reference, refunded.merchant_reference) == (a["id"], "refund_a")
    assert (refunded.modification_reference, refunded.gross_debit_minor) == (refund["id"], 2500)
    assert refunded.net_debit_minor == 2500
    for line in by_type["Chargeback"] + by_type["Fee"]:
        dispute = disputes[line.merchant_reference]
        assert (line.psp_reference, line.modification_reference) == (
            dispute["charge"],
            dispute["id"],
        )
    assert sorted(line.gross_debit_minor for line in by_type["Chargeback"]) == [2000, 3000, 5000]
    assert [line.net_debit_minor for line in by_type["Fee"]] == [1500, 1500, 1500]
    reversed_amounts = sorted(line.gross_credit_minor for line in by_type["ChargebackReversed"])
    assert reversed_amounts == [2000, 3000]
    (second,) = by_type["SecondChargeback"]
    assert (second.merchant_reference, second.net_debit_minor) == ("order_d", 3000)
    moved = [line for line in lines if line.type != "MerchantPayout"]
    assert sum(line.net_credit_minor - line.net_debit_minor for line in moved) == 3300
    for content in files.values():
        day_lines = _lines({"": content})
        *movements, closing = day_lines
        assert closing.type == "MerchantPayout"
        net = sum(line.net_credit_minor - line.net_debit_minor for line in movements)
        assert (closing.net_debit_minor, closing.net_credit_minor) == (max(net, 0), max(-net, 0))

    sandbox.stop()
    sandbox.start()
    assert _files(client) == files


def test_pending_money_moves_to_available_when_it_becomes_final(
    start_sandbox: SandboxStarter, webhook_receiver: WebhookReceiver
) -> None:
    sandbox = start_sandbox("--pending-delay", "2", "--payout-delay", "2")
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        card = {"number": "4000000000003220", "exp_month": 12, "exp_year": 2099, "cvc": "123"}
        token = client.post("/v1/tokens", json=card).json()["token"]
        body = {"amount": 1_000, "currency": "USD", "token": token, "reference": "pending"}
        charge = _post(client, "/v1/charges", body, "pending-charge")
        assert _balance(client) == (0, 941)  # 1000 - (29 + 30), on its way
        payout = {"amount": 500, "currency": "USD", "destination": "seller", "reference": "po"}
        _post(client, "/v1/payouts", payout, "pending-payout")
        assert _balance(client) == (0, 441)
        webhook_receiver.wait_for_event("payout.paid")
        webhook_receiver.wait_for_event("charge.succeeded")
        assert _balance(client) == (441, 0)
        refund = {"charge": charge["id"], "amount": 300, "reference": "rf"}
        assert _post(client, "/v1/refunds", refund, "pending-refund")["status"] == "pending"
        assert _balance(client) == (441, -300)
        webhook_receiver.wait_for_event("refund.succeeded")
        assert _balance(client) == (141, 0)
