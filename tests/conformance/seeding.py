"""Real objects in a served deployment, for schemathesis to find behind its path parameters.

Without them every operation on an existing order, refund, payout, seller, reconciliation run
or ledger account answers 404 to generated ids, and schemathesis never reaches what those
operations do. `seed` makes them through the API and the sandbox PSP, as a user would: two
sellers (KYC verified, pending), checkouts captured, declined, disputed and held for review, a
refund, a payout, an order, a refund and a payout each dead-lettered (the sandbox answers 503
until the executor gives up), the day's settlement file reconciled as it is and once more with
a net amount changed (an open exception), a verification, an erasure, and two webhook
endpoints made before the checkouts, one of them disabled after, each with the deliveries of
the orders' outcomes (nothing listens at HOOK_URL: each failed at its one attempt, so the
enabled endpoint's can be redelivered), and a third endpoint that alone is offered to
disableWebhookEndpoint (disabling the first would leave nothing to rotate or redeliver).
`config` binds each path parameter to the ids made, for most of the generated cases
(schemathesis' dictionaries), the rest staying generated.

The deployment needs `served_settings`: funds available at once (the payout), a review rule
for large orders, an executor that gives up after two quick attempts (the dead letters), and
webhook deliveries tried once.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from tests.integration.helpers import seller_checkout

SUCCESS_CARD, DISPUTED_CARD, DECLINED_CARD = (
    "4242424242424242",
    "4000000000000259",
    "4000000000000002",
)
REVIEW_RULES = """
[[rule]]
name = "large_order"
kind = "amount"
max_order_amount = "1500.00"
action = "review"
"""


def served_settings(rules_file: str) -> dict[str, str]:
    """PAYMENTS_* settings of a deployment `seed` can fill (`rules_file` holds REVIEW_RULES)."""
    return {
        "PAYMENTS_AVAILABLE_AFTER_DAYS": "0",
        "PAYMENTS_RISK_RULES": rules_file,
        "PAYMENTS_EXECUTOR_MAX_ATTEMPTS": "2",
        "PAYMENTS_EXECUTOR_BACKOFF_BASE_S": "0.01",
        "PAYMENTS_EXECUTOR_BACKOFF_CAP_S": "0.05",
        "PAYMENTS_DELIVERY_MAX_ATTEMPTS": "1",
    }


VERIFIED_ID, PENDING_ID = "000000000", "123456789"  # the sandbox's KYC answers
HOOK_URL = "http://127.0.0.1:9/hooks"  # the discard port: nothing listens, every attempt fails


def _until(done: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"seeding: {what} did not happen within {timeout} s")
        time.sleep(0.25)


class Seeder:
    def __init__(self, api_url: str, sandbox_url: str, key: str) -> None:
        self.api = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.psp = httpx.Client(base_url=sandbox_url, timeout=30)
        self.run = uuid.uuid4().hex[:8]

    def post(self, path: str, body: Any) -> Any:
        answer = self.api.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert answer.status_code in (200, 201, 202), (path, answer.status_code, answer.text)
        return answer.json()

    def card(self, number: str) -> str:
        card = {"number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123"}
        return str(self.psp.post("/v1/tokens", json=card).json()["token"])

    def seller(self, account: str, id_number: str) -> str:
        bank = self.psp.post(
            "/v1/bank_tokens", json={"holder_name": "Seeded", "iban": "DE89370400440532013000"}
        ).json()["id"]
        self.post(
            "/sellers",
            {
                "seller_account": account,
                "legal_name": f"Shop {account}",
                "country": "DE",
                "bank_token": bank,
                "contact": {"email": "seeded@example.com", "phone": "+4930123456"},
                "id_number": id_number,
            },
        )
        return account

    def checkout(self, card: str, seller: str, amounts: list[str]) -> tuple[str, list[str]]:
        buyer = {"buyer_id": f"buyer_{self.run}", "name": "Seeded Buyer"}
        body = seller_checkout(seller, amounts, self.card(card), buyer)
        self.post("/payments", body)
        return body["checkout_id"], [order["payment_order_id"] for order in body["payment_orders"]]

    def status(self, order_id: str) -> str:
        return str(self.api.get(f"/payments/{order_id}").json().get("status"))

    def available(self, seller: str) -> str:
        answer = self.api.get(f"/wallets/{seller}")
        return str(answer.json().get("available")) if answer.status_code == 200 else "0.00"

    def state(self, path: str) -> str:
        return str(self.api.get(path).json().get("status"))

    def dead_lettered(self, endpoint: str, make: Callable[[], str], listed_at: str) -> str:
        """What `make` creates while every `endpoint` call at the PSP answers 503, once the
        executor has given it up (listed at `listed_at`); the PSP is well again after."""
        rule = {"kind": "status", "status": 503, "count": 1000, "endpoint": endpoint}
        assert self.psp.post("/admin/faults", json=rule).status_code == 201
        try:
            made = make()
            _until(lambda: made in self.api.get(listed_at).text, f"the {endpoint} dead letter")
        finally:
            self.psp.delete("/admin/faults")
        return made

    def reconcile(self, settlement: bytes) -> str:
        answer = self.api.post(
            "/reconciliations",
            content=settlement,
            headers={"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "text/csv"},
        )
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["run_id"])

    def exceptions(self, run_id: str) -> list[str]:
        page = self.api.get(f"/reconciliations/{run_id}/exceptions").json()
        return [str(finding["finding_id"]) for finding in page["exceptions"]]

    def webhook_endpoint(self, *event_types: str) -> str:
        body = {"url": HOOK_URL, "event_types": list(event_types), "description": "seeded"}
        return str(self.post("/webhook-endpoints", body)["endpoint_id"])

    def event_ids(self) -> list[str]:
        """Some public events' ids (GET /events/{event_id})."""
        page = self.api.get("/events?limit=4").json()
        assert page["items"], "no public event to read by its id"
        return [str(event["id"]) for event in page["items"]]

    def failed_deliveries(self, endpoint_id: str) -> list[str]:
        page = self.api.get(f"/webhook-endpoints/{endpoint_id}/deliveries?status=failed").json()
        return [str(delivery["delivery_id"]) for delivery in page["items"]]


def net_changed(settlement: bytes) -> bytes:
    """The file with its first capture's net credit one unit higher: an amount mismatch."""
    header, *rows = list(csv.reader(io.StringIO(settlement.decode())))
    kind, net = header.index("Type"), header.index("Net Credit (NC)")
    row = next(row for row in rows if row[kind] == "Settled")
    row[net] = f"{Decimal(row[net]) + 1:.2f}"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode()


def seed(api_url: str, sandbox_url: str, key: str) -> dict[str, list[str]]:
    """Make the objects (in a deployment with `served_settings`); their ids, by path
    parameter name."""
    s = Seeder(api_url, sandbox_url, key)
    try:
        verified = s.seller(f"seller_seed_{s.run}", VERIFIED_ID)
        pending = s.seller(f"seller_wait_{s.run}", PENDING_ID)
        hooked = s.webhook_endpoint("payment_order.succeeded", "payment_order.failed")
        unhooked = s.webhook_endpoint("payment_order.succeeded")
        captured_checkout, captured = s.checkout(SUCCESS_CARD, verified, ["30.00"] * 3)
        disputed_checkout, disputed = s.checkout(DISPUTED_CARD, verified, ["40.00"])
        declined_checkout, declined = s.checkout(DECLINED_CARD, pending, ["7.00"])
        held_checkout, held = s.checkout(SUCCESS_CARD, verified, ["2000.00", "1600.00"])  # review
        charged = captured + disputed + declined
        _until(lambda: all(s.status(o) in ("SUCCESS", "FAILED") for o in charged), "the charges")
        _until(lambda: len(s.failed_deliveries(hooked)) >= 3, "the webhook deliveries")
        _until(lambda: bool(s.failed_deliveries(unhooked)), "the other endpoint's deliveries")
        s.post(f"/webhook-endpoints/{unhooked}/disable", {"reason": "seeded disabled"})
        disposable = s.webhook_endpoint("payout.paid")
        refund = s.post(f"/payments/{captured[0]}/refunds", {"amount": "5.00"})["refund_id"]
        _until(lambda: s.available(verified) not in ("0.00", "None"), "the seller's credit")
        payout = s.post("/payouts", {"seller_account": verified, "amount": "10.00"})["payout_id"]
        _until(lambda: s.state(f"/refunds/{refund}") == "SUCCEEDED", "the refund")
        _until(lambda: s.state(f"/payouts/{payout}") == "PAID", "the payout")
        parked_order = s.dead_lettered(
            "charges", lambda: s.checkout(SUCCESS_CARD, verified, ["3.00"])[1][0], "/dead-letters"
        )
        parked_refund = s.dead_lettered(
            "refunds",
            lambda: str(
                s.post(f"/payments/{captured[1]}/refunds", {"amount": "1.00"})["refund_id"]
            ),
            "/dead-letters/refunds",
        )
        parked_payout = s.dead_lettered(
            "payouts",
            lambda: str(
                s.post("/payouts", {"seller_account": verified, "amount": "2.00"})["payout_id"]
            ),
            "/dead-letters/payouts",
        )
        _until(lambda: s.api.get(f"/payments/{disputed[0]}/dispute").status_code == 200, "dispute")
        settlement = s.psp.get(f"/v1/settlements/{time.strftime('%Y-%m-%d', time.gmtime())}.csv")
        clean_run = s.reconcile(settlement.content)
        off_run = s.reconcile(net_changed(settlement.content))
        findings = s.exceptions(off_run)
        assert findings, "the changed file gave no exception"
        verification = s.post("/audit/verifications", {})["verification_id"]
        erasure = s.post("/privacy/erasures", {"buyer_id": f"buyer_{s.run}"})["erasure_id"]
        return {
            "checkout_id": [captured_checkout, disputed_checkout, declined_checkout, held_checkout],
            "payment_order_id": [*charged, *held, parked_order],
            "refund_id": [refund, parked_refund],
            "payout_id": [payout, parked_payout],
            "seller_account": [verified, pending],
            "account": [f"seller:{verified}", "psp_receivable", "platform_revenue"],
            "run_id": [clean_run, off_run, off_run],
            "finding_id": findings,
            "verification_id": [verification],
            "erasure_id": [erasure],
            "endpoint_id": [hooked, unhooked],
            "disableWebhookEndpoint:endpoint_id": [disposable, unhooked],
            "delivery_id": [*s.failed_deliveries(hooked)[:3], s.failed_deliveries(unhooked)[0]],
            "event_id": s.event_ids(),
        }
    finally:
        s.api.close()
        s.psp.close()


def config(base: str, seeded: dict[str, list[str]], probability: float = 0.6) -> str:
    """`base` (a schemathesis.toml) with each path parameter bound to the ids seeded; ids
    seeded as `operationId:parameter` are that operation's own, over the shared ones."""
    tables = [
        f"[dictionaries.{_dictionary(name)}]\nvalues = {json.dumps(ids)}\n"
        for name, ids in seeded.items()
    ]
    own = [
        f'[[operations]]\ninclude-operation-id = ["{operation_id}"]\n'
        f'parameters = {{ "path.{parameter}" = {_binding(name, probability)} }}\n'
        for name in seeded
        if ":" in name
        for operation_id, parameter in [name.split(":")]
    ]
    shared = [
        f'"path.{name}" = {_binding(name, probability)}' for name in seeded if ":" not in name
    ]
    return "\n".join([base, *tables, *own, "[parameters]", *shared, ""])


def _dictionary(name: str) -> str:
    return name.replace(":", "_")


def _binding(name: str, probability: float) -> str:
    return f'{{ dictionary = "{_dictionary(name)}", probability = {probability} }}'
