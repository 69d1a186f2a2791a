"""Racing payouts never pay out more than was credited; refused inputs write nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from payments.domain.payout_commands import payout_id_for_run
from payments.runtime.scheduling import job_dependencies
from payments.scheduler.jobs import run_payouts
from tests.executor.conftest import Stack
from tests.payouts.helpers import credit, post_payout, requested_payout_id, seller
from tests.racing import all_at_once


def _payouts_of(stack: Stack, account: str) -> list[int]:
    wallet = stack.services.application.find_wallet(account)
    assert wallet is not None
    assert wallet.available_minor >= 0
    return list(wallet.reserved.values())


def test_racing_payout_requests_never_reserve_more_than_was_credited(stack: Stack) -> None:
    account = seller("race")
    credit(stack, account, ["10", "10", "5"])  # 25.00 credited
    answers = all_at_once(8, lambda _: post_payout(stack, account, "7"))
    created = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 422]
    assert len(created) == 3  # 3 x 7.00 <= 25.00 < 4 x 7.00
    assert len(refused) == 5
    assert all(a.headers["content-type"] == "application/problem+json" for a in refused)
    reserved = _payouts_of(stack, account)
    assert sum(reserved) == 2100
    wallet = stack.services.application.find_wallet(account)
    assert wallet is not None
    assert wallet.available_minor == 400


def test_two_payout_runs_racing_pay_each_seller_once(stack: Stack) -> None:
    accounts = [seller("run"), seller("run")]
    for account in accounts:
        credit(stack, account, ["11"])
    day = date(2031, 1, 2)
    results = all_at_once(4, lambda _: run_payouts(job_dependencies(stack.services), day))
    assert len(results) == 4
    assert sum(r["created"] for r in results) == 2
    for account in accounts:
        assert _payouts_of(stack, account) == [1100]
        assert stack.services.application.find_payout(payout_id_for_run(day.isoformat(), account))
    again = run_payouts(job_dependencies(stack.services), day)
    assert again["created"] == 0


def test_payouts_from_two_processes_never_exceed_the_credits(stack: Stack) -> None:
    account = seller("procs")
    credit(stack, account, ["10"])  # 10.00 credited
    script = (
        "import sys\n"
        "from payments.runtime.config import Settings\n"
        "from payments.api.routes.payouts import request_payout\n"
        "from payments.runtime.services import build_services\n"
        "from payments.domain.errors import InvalidCommand\n"
        "from payments.domain.payout_commands import RequestPayout\n"
        "services = build_services(Settings.from_env(), sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "made = 0\n"
        "for i in range(5):\n"
        "    try:\n"
        "        request_payout(services, RequestPayout(f'{sys.argv[3]}_{i}', sys.argv[2], 150))\n"
        "        made += 1\n"
        "    except InvalidCommand:\n"
        "        pass\n"
        "print(made)\n"
    )
    env = {**stack.env, "PAYMENTS_LOG_LEVEL": "ERROR"}
    processes = []
    # Started one after the other (start-up creates tables); then both pay out at once.
    for n in range(2):
        process = subprocess.Popen(
            [sys.executable, "-c", script, stack.services.database_url, account, f"p{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**env, "PATH": "/usr/bin:/bin"},
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"ready"
        processes.append(process)
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        process.stdin.flush()
    made = [int(process.communicate(timeout=60)[0].decode().strip()) for process in processes]
    assert sum(made) == 6  # 6 x 1.50 <= 10.00 < 7 x 1.50
    reserved = _payouts_of(stack, account)
    assert len(reserved) == 6
    assert sum(reserved) == 900


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": 5}, None),
        ({"amount": "1000"}, "amount"),  # above what is available
        ({"amount": "1", "currency": "USD"}, None),  # unknown field
    ],
)
def test_bad_payout_requests_are_refused_and_write_nothing(
    stack: Stack, body: dict[str, object], field: str | None
) -> None:
    account = seller("bad")
    credit(stack, account, ["3"])
    key = f"bad-{account}"
    answer = stack.http.post(
        "/payouts",
        json={"seller_account": account, **body},
        headers={"Idempotency-Key": key},
    )
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert field in [error["field"] for error in answer.json()["errors"]]
    assert stack.services.application.find_payout(requested_payout_id(stack, key)) is None
    assert _payouts_of(stack, account) == []
    assert stack.http.get(f"/payouts/{requested_payout_id(stack, key)}").status_code == 404


def test_payout_requests_without_key_or_for_unknown_sellers_are_refused(stack: Stack) -> None:
    no_key = stack.http.post("/payouts", json={"seller_account": "nobody"})
    assert no_key.status_code == 400
    unknown = post_payout(stack, seller("nobody"), "1")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "seller_account"


def test_a_repeated_payout_request_is_replayed_not_paid_twice(stack: Stack) -> None:
    account = seller("again")
    credit(stack, account, ["4"])
    first = post_payout(stack, account, "2", key=f"k-{account}")
    second = post_payout(stack, account, "2", key=f"k-{account}")
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert first.content == second.content
    assert _payouts_of(stack, account) == [200]


def test_the_wallet_follower_replayed_from_zero_credits_nothing_twice(stack: Stack) -> None:
    """A crash between saving wallets and the follower's position repeats nothing."""

    account = seller("replay")
    credit(stack, account, ["4", "6"])
    assert post_payout(stack, account, "3").status_code == 201
    before = stack.services.application.find_wallet(account)
    assert before is not None
    with stack.services.pool.connection() as conn:
        conn.execute("UPDATE wallet_feed_tracking SET notification_id = 0")
    stack.services.wallet_feed.run_until_idle()
    after = stack.services.application.find_wallet(account)
    assert after is not None
    assert (after.version, after.available_minor, after.credited_minor) == (
        before.version,
        700,
        1000,
    )
