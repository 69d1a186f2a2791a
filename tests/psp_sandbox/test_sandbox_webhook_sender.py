"""The sandbox's webhook sender against receivers that fail: nothing listening, and one that
never answers (the sender must time out, keep the delivery and still stop promptly)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.processes import free_port
from tests.psp_sandbox.conftest import SandboxProcess
from tests.waiting import wait_until


def _charge(sandbox: SandboxProcess, token: str) -> None:
    body = {"amount": 1000, "currency": "USD", "token": token, "reference": "po_hook"}
    with httpx.Client(base_url=sandbox.base_url) as client:
        answer = client.post("/v1/charges", json=body, headers={"Idempotency-Key": "k-hook"})
    assert answer.status_code == 201


def _delivery(sandbox: SandboxProcess) -> dict[str, Any]:
    with httpx.Client(base_url=sandbox.base_url) as client:
        (event,) = client.get("/v1/events").json()["data"]
    (delivery,) = event["deliveries"]
    return dict(delivery)


def _token(sandbox: SandboxProcess) -> str:
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}
    with httpx.Client(base_url=sandbox.base_url) as client:
        return str(client.post("/v1/tokens", json=card).json()["token"])


def test_a_receiver_nobody_listens_on_is_retried_with_the_error_recorded(tmp_path: Path) -> None:
    sandbox = SandboxProcess(tmp_path / "s.sqlite3", f"http://127.0.0.1:{free_port()}/hook")
    sandbox.start()
    try:
        _charge(sandbox, _token(sandbox))
        wait_until(lambda: _delivery(sandbox)["attempts"] >= 3)
        delivery = _delivery(sandbox)
        assert delivery["status"] == "pending"
        assert delivery["last_status_code"] is None
        assert "Connection" in delivery["last_error"]
    finally:
        sandbox.stop()


def test_a_silent_receiver_times_out_and_the_sandbox_still_stops_promptly(
    tmp_path: Path, silent_receiver: str
) -> None:
    sandbox = SandboxProcess(
        tmp_path / "s.sqlite3", silent_receiver, extra_args=["--webhook-timeout", "1"]
    )
    sandbox.start()
    _charge(sandbox, _token(sandbox))
    wait_until(lambda: _delivery(sandbox)["attempts"] >= 1)
    delivery = _delivery(sandbox)
    assert delivery["status"] == "pending"
    assert "Timeout" in delivery["last_error"]
    time.sleep(0.35)  # the retry (cap 0.3 s) is in flight again, waiting on the silent receiver
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 5.0
    sandbox.start()  # the delivery is kept for later
    try:
        assert _delivery(sandbox)["status"] == "pending"
    finally:
        sandbox.stop()
