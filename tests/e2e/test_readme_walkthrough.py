"""The README's walk-through, pasted into a shell as a newcomer would, against a real
`payments serve`: every command still works and answers what the README says, from the
first key through refunds, a dispute won, the day's settlement file reconciled, a seller
onboarded, to a payout.

The blocks run in one bash session, in order, with the test's ports in place of 8000 and
8010; the only lines added are waits where the README says "a moment later". Left out: the
risk section (it restarts the server with rules; the README's figures after it are those of
a server that skipped it, as it says) and the blocks that name objects by a placeholder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import new_database
from tests.e2e.processes import Process, clean_env, free_port

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "@@ block {} @@"


def wait_until(reads: str, pattern: str) -> str:
    """Bash run between blocks where the README lets time pass: `reads` (curl commands, their
    answers run together) again every 0.1 s, for at most 30 s, until they match `pattern`."""
    return f"""
for _ in $(seq 300); do
  case "$({reads})" in {pattern}) break;; esac
  sleep 0.1
done
"""


def read(path: str, key: str = "MERCHANT") -> str:
    return f'curl -s -H "Authorization: Bearer ${key}" {{api}}{path}'


# Both orders SUCCESS and credited, their checkout done (the executor charges them at the
# sandbox, the views apply it); both refunds back from the PSP; the settled captures'
# funds released.
ORDERS = f"{read('/payments/po_readme_1_a')}; {read('/payments/po_readme_1_b')}"
WAIT_FOR_CHARGES = wait_until(
    f"{ORDERS}; {read('/checkouts/co_readme_1')}",
    """*'"wallet_updated":true'*'"wallet_updated":true'*'"is_payment_done":true'*""",
)
# ... and taken from both wallets (the wallet feed follows the log apart from the orders' view)
WAIT_FOR_REFUNDS = wait_until(
    f"{ORDERS}; {read('/wallets/seller_a', 'FINANCE')}; {read('/wallets/seller_b', 'FINANCE')}",
    """*'"status":"SUCCEEDED"'*'"status":"SUCCEEDED"'*'"available":"-5.00"'*'"available":"-7.50"'*""",
)
WAIT_FOR_RELEASE = wait_until(read("/wallets/seller_a", "FINANCE"), """*'"pending":"0.00"'*""")
SECTIONS = (
    "Try it",
    "Audit",
    "Refunds, disputes and when a seller can be paid",
    "Reconcile the day's settlement file",
    "Onboard a seller",
    "Pay a seller out",
)


def section_blocks(title: str) -> list[str]:
    """The shell blocks of one of the README's sections, in order."""
    section = README.read_text().split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def walkthrough() -> list[str]:
    """The blocks a newcomer can paste as they are: not those that name an object by a
    placeholder (RUN_ID, acct_..., payout_req_...) or that need another server (seller_c's
    KYC ran with PAYMENTS_AVAILABLE_AFTER_DAYS=0)."""
    try_it, audit, refunds, reconcile, onboard, payout = (
        section_blocks(title) for title in SECTIONS
    )
    return [*try_it, *audit, *refunds, *reconcile[:2], onboard[0], payout[0]]


def script(blocks: list[str], api: str, psp: str) -> str:
    lines = ["set -u"]
    for number, block in enumerate(blocks):
        text = block.replace("http://127.0.0.1:8000", api).replace("http://127.0.0.1:8010", psp)
        # The test's interpreter has `payments` beside it on PATH; there is no .venv to enter.
        text = text.replace(". .venv/bin/activate", ":")
        if "po_readme_1_b" in text and "checkouts/co_readme_1" in text:  # "A moment later"
            lines.append(WAIT_FOR_CHARGES.format(api=api))
        if "wallets/seller_b" in text and "refunded" in text:  # "A moment later" again
            lines.append(WAIT_FOR_REFUNDS.format(api=api))
        if "wallets?balance=negative" in text:  # the run's releases, applied by the views
            lines.append(WAIT_FOR_RELEASE.format(api=api))
        lines += [f"echo '{MARK.format(number)}'", text]
    return "\n".join(lines)


def outputs(stdout: str, count: int) -> list[str]:
    parts = re.split(r"@@ block (\d+) @@\n", stdout)
    found = {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}
    assert sorted(found) == list(range(count)), stdout[-3000:]
    return [found[n] for n in range(count)]


def json_answers(text: str) -> list[dict[str, Any]]:
    """The JSON objects in a block's output, in order: curl -s prints an answer without a
    newline, so the answers of one block run together on a line."""
    found: list[dict[str, Any]] = []
    decoder, at = json.JSONDecoder(), text.find("{")
    while at != -1:
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            at = text.find("{", at + 1)
            continue
        found.append(value)
        at = text.find("{", end)
    return found


def pasted(admin_url: str, tmp_path: Path, blocks: list[str], **settings: str) -> list[str]:
    """What each block printed, run in order against `payments serve` started as the README
    starts it (with `settings` beside), on a database of its own."""
    api_port, psp_port = free_port(), free_port()
    api, psp = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{psp_port}"
    with new_database(admin_url) as url:
        env = clean_env(
            PAYMENTS_DATABASE_URL=url,
            PAYMENTS_DATA_DIR=str(tmp_path / "data"),
            PAYMENTS_PORT=str(api_port),
            PAYMENTS_PSP_SANDBOX_PORT=str(psp_port),
            PAYMENTS_COMMISSION="2.5%+0.30",  # as the README starts it
            **settings,
        )
        server = Process(["serve"], env, tmp_path / "serve.log")
        try:
            server.wait_http(f"{api}/health")
            shell_env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
            done = subprocess.run(
                ["bash", "-c", script(blocks, api, psp)],
                env=shell_env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=240,
            )
        finally:
            assert server.interrupt() == 0, server.logs()[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    return outputs(done.stdout, len(blocks))


NEEDS_TOOLS = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("openssl") is None,
    reason="the README's walk-through uses curl and openssl",
)


@pytest.mark.slow
@NEEDS_TOOLS
def test_the_readme_walkthrough_answers_as_the_readme_says(
    admin_database_url: str, tmp_path: Path
) -> None:
    blocks = walkthrough()
    assert len(blocks) == 21, "the README's walk-through changed: update this test with it"
    blocks_out = pasted(admin_database_url, tmp_path, blocks)
    (keys, refused, token, created, replayed, read, later, books, seller, bad, ops) = blocks_out[
        :11
    ]
    then, audit, refunded, settled, disputed, won = blocks_out[11:17]
    reconciled, released, onboarded, paid = blocks_out[17:]
    assert all(name in keys for name in ("readme-shop", "readme-finance", "readme-ops"))
    assert refused.splitlines() == ["HTTP/1.1 401 Unauthorized", "HTTP/1.1 403 Forbidden"]
    assert token.strip().startswith("tok_")
    assert created.startswith("HTTP/1.1 201 Created")
    assert "event-position: 6" in created  # three keys, then the checkout and its two orders
    (body,) = json_answers(created)
    assert body["position"] == 6
    assert [o["amount"] for o in body["payment_orders"]] == ["25.00", "7.50"]
    assert replayed.startswith("HTTP/1.1 201 Created")
    assert "idempotent-replayed: true" in replayed
    assert json_answers(replayed) == [body]  # byte for byte the same answer
    (order,) = json_answers(read)
    assert order["payment_order_id"] == "po_readme_1_a"
    a, b, checkout, events = json_answers(later)
    assert (a["status"], a["commission"], a["seller_net"], a["seller_funds"]) == (
        "SUCCESS",
        "0.93",
        "24.07",
        "pending",
    )
    assert (b["status"], b["amount"]) == ("SUCCESS", "7.50")
    assert checkout["is_payment_done"] is True
    assert sorted((e["type"], e["data"]["payment_order_id"]) for e in events["items"]) == [
        ("payment_order.succeeded", "po_readme_1_a"),
        ("payment_order.succeeded", "po_readme_1_b"),
    ]
    assert events["has_more"] is False
    wallet, account, trial, listing = json_answers(books)
    assert (wallet["pending"], wallet["available"]) == ("24.07", "0.00")
    assert account["account"] == "psp_receivable"
    assert (trial["total"], trial["balanced"]) == ("0.00", True)
    assert [o["payment_order_id"] for o in listing["items"]] == ["po_readme_1_a"]
    own, other = json_answers(seller)
    assert own["seller_account"] == "seller_a"
    assert other["status"] == 404
    # the phrase is Python's: "Unprocessable Entity" to 3.12, RFC 9110's "Content" from 3.13
    assert bad.startswith("HTTP/1.1 422 Unprocessable ")
    (problem,) = json_answers(bad)
    assert problem["errors"][0]["field"] == "payment_orders[0].amount"
    health, schema = json_answers(ops)[:2]
    assert health == {"status": "ok", "database": "ok", "mode": "sandbox"}
    assert schema["openapi"].startswith("3.1")
    assert "payments_requests_total{" in ops
    # Audit: the order as it stood when it was created, then its history and the CLI's tools.
    before, wallet_then, wallet_now, trial_now, history = json_answers(then)
    assert before["status"] == "NOT_STARTED"
    assert wallet_then["status"] == 404
    assert wallet_now["pending"] == "24.07"
    assert trial_now["total"] == "0.00"
    assert [e["event_type"] for e in history["events"]][:1] == ["PaymentOrder.Created"]
    assert "tok_" not in json.dumps(history)  # no card token in an order's history
    assert "identical" in audit
    assert "drift" not in audit
    assert "OK: " in audit  # the seal checked
    assert "po_readme_1_a" in audit  # the replay and the export name the order
    assert re.search(r"backup written to payments-[\d-]+\.dump: \d+ event\(s\)", audit)
    assert re.search(r"payments-[\d-]+\.dump restores: .* event\(s\) in 1 seal\(s\) check", audit)
    # Refunds: two accepted, one refused for asking more than is left; then settled.
    first, second, too_much = json_answers(refunded)
    assert (first["amount"], first["status"]) == ("5.00", "PENDING")
    assert (second["amount"], second["status"]) == ("7.50", "PENDING")
    assert too_much["status"] == 422
    assert too_much["errors"][0]["message"] == "must be at most 20.00, what is left to refund"
    order_a, wallet_a, wallet_b, listed = json_answers(settled)
    assert (order_a["refunded"], order_a["refundable"]) == ("5.00", "20.00")
    assert [(r["amount"], r["status"]) for r in listed["items"]] == [
        ("7.50", "SUCCEEDED"),
        ("5.00", "SUCCEEDED"),
    ]
    assert (wallet_a["pending"], wallet_a["available"], wallet_a["balance"]) == (
        "24.07",
        "-5.00",
        "19.07",
    )
    assert (wallet_b["pending"], wallet_b["available"], wallet_b["balance"]) == (
        "7.01",
        "-7.50",
        "-0.49",
    )
    # A disputed charge: its dispute needs a response, the evidence wins it back.
    placed, dispute, wallet = json_answers(disputed)
    assert placed["payment_orders"][0]["payment_order_id"] == "po_readme_3_a"
    assert (dispute["status"], dispute["amount"], dispute["fee"]) == (
        "needs_response",
        "40.00",
        "15.00",
    )
    assert (wallet["pending"], wallet["available"]) == ("62.77", "-45.00")
    evidence, dispute, listed, wallet = json_answers(won)
    assert evidence["status"] == "under_review"
    assert dispute["status"] == "won"
    assert listed == {"items": [dispute], "next_cursor": None}
    assert (wallet["pending"], wallet["available"], wallet["balance"]) == (
        "62.77",
        "-5.00",
        "57.77",
    )
    # The day's settlement file reconciled: every line matched, the funds released.
    assert "matched      │ 8     │ 45.00" in reconciled
    assert "paid_to_bank │ 1     │ 41.99" in reconciled
    wallet, receivable, revenue, negative = json_answers(released)
    assert (wallet["pending"], wallet["available"]) == ("0.00", "57.77")
    assert receivable["balance"] == "0.00"
    assert revenue["balance"] == "-2.72"
    assert [(w["seller_account"], w["balance"]) for w in negative["wallets"]] == [
        ("seller_b", "-0.49")
    ]
    balance = released.rsplit("}", 1)[1]  # `payments reconcile balance`, after the JSON
    assert "difference" in balance
    assert balance.strip().endswith("balanced")
    # A seller onboarded and verified, then paid out.
    assert onboarded.startswith("HTTP/1.1 201 Created")
    (seller,) = json_answers(onboarded)
    assert (seller["kyc_status"], seller["payable"]) == ("verified", True)
    assert paid.startswith("HTTP/1.1 201 Created")
    (payout,) = json_answers(paid)
    assert (payout["amount"], payout["status"]) == ("20.00", "REQUESTED")


@pytest.mark.slow
@NEEDS_TOOLS
def test_the_readme_risk_section_declines_the_sixth_checkout_and_holds_the_large_order(
    admin_database_url: str, tmp_path: Path
) -> None:
    """The risk section, on a server started with the shipped rules (the README's command
    names the file relative to the clone) after the walk-through's keys."""
    keys = section_blocks("Try it")[0]
    start, velocity, declined, review = section_blocks(
        "Risk checks: a checkout caught by a velocity rule"
    )
    assert "PAYMENTS_RISK_RULES=risk-rules.example.toml" in start
    rules = str(README.parent / "risk-rules.example.toml")
    _, placed, looked_up, reviewed = pasted(
        admin_database_url, tmp_path, [keys, velocity, declined, review], PAYMENTS_RISK_RULES=rules
    )
    answers = json_answers(placed)
    assert [a["payment_orders"][0]["status"] for a in answers] == ["NOT_STARTED"] * 5 + ["FAILED"]
    sixth = answers[5]["payment_orders"][0]
    assert (sixth["risk"], sixth["risk_rule"]) == ("decline", "card_velocity")
    order, count = json_answers(looked_up)
    assert (order["status"], order["attempts"], order["failure_code"]) == (
        "FAILED",
        0,
        "blocked_by_risk",
    )
    assert count == {"reference": "po_velocity_6", "charges": 0, "succeeded": 0}
    held, queue, decision = json_answers(reviewed)
    assert (held["payment_orders"][0]["risk"], held["payment_orders"][0]["risk_rule"]) == (
        "review",
        "large_order",
    )
    assert "items" in queue, queue  # a CI run once saw another answer here: say which
    assert [item["payment_order_id"] for item in queue["items"]] == ["po_review_1"]
    assert (decision["payment_order_id"], decision["decision"]) == ("po_review_1", "approved")
