"""The PSP client's transport (psp/http.py, ADR 0022) against a PSP that is not there, one
that never answers, and the sandbox: what each failure becomes for the executor."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from datetime import date

import pytest

from payments.domain.execution import NotFoundAtPsp, Retryable, Succeeded
from payments.psp.answers import BalanceUnavailable, SettlementUnavailable
from payments.psp.client import ChargeRequest, HttpPspClient
from payments.psp.http import PspHttp
from tests.e2e.processes import free_port
from tests.psp_sandbox.conftest import SandboxStarter

REQUEST = ChargeRequest(1000, "USD", "tok_x", "po_http", "key_http")


def test_a_psp_nobody_listens_on_is_a_connection_error_not_a_timeout() -> None:
    client = HttpPspClient(f"http://127.0.0.1:{free_port()}", timeout_s=2, max_connections=1)
    try:
        answer = client.create_charge(REQUEST)
        assert isinstance(answer, Retryable)
        assert answer.error == "connection error: NewConnectionError"
        assert isinstance(client.find_charge("po_http"), Retryable)
        with pytest.raises(BalanceUnavailable, match="connection error"):
            client.balance()
        with pytest.raises(SettlementUnavailable, match="connection error"):
            client.fetch_settlement(date(2026, 12, 5), io.BytesIO())
    finally:
        client.close()


def test_a_silent_psp_times_out_each_call_and_the_pool_is_not_held(silent_receiver: str) -> None:
    base = silent_receiver.removesuffix("/webhooks/psp")
    client = HttpPspClient(base, timeout_s=0.5, max_connections=1)
    try:
        started = time.monotonic()
        charge = client.create_charge(REQUEST)
        lookup = client.find_charge("po_http")
        assert time.monotonic() - started < 3.0
        assert charge == Retryable("timeout calling the PSP")
        assert lookup == Retryable("timeout re-querying the PSP")
        # one connection, two threads: the second waits for it (at most the timeout), and
        # either gets it and times out on the silent PSP, or times out waiting
        answers: list[object] = []
        threads = [
            threading.Thread(target=lambda: answers.append(client.create_charge(REQUEST)))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=5)
        assert answers == [Retryable("timeout calling the PSP")] * 2
    finally:
        client.close()


def test_the_sandbox_answers_through_it_with_the_key(start_sandbox: SandboxStarter) -> None:
    sandbox = start_sandbox(api_key="sk_test_http")
    keyless = PspHttp(sandbox.base_url, timeout_s=5)
    http = PspHttp(sandbox.base_url, timeout_s=5, api_key="sk_test_http")
    client = HttpPspClient(sandbox.base_url, timeout_s=5, max_connections=2, api_key="sk_test_http")
    try:
        assert keyless.request("GET", "/v1/balance").status_code == 401
        card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}
        token = http.request("POST", "/v1/tokens", json=card).json()["token"]
        request = ChargeRequest(1000, "USD", token, "po_http_ok", "key_http_ok")
        first = client.create_charge(request)
        assert isinstance(first, Succeeded)
        assert client.create_charge(request) == first  # the same key: the same charge
        assert client.find_charge("po_http_ok") == first
        assert client.find_charge("po_http_unknown") == NotFoundAtPsp()
        out = io.BytesIO()  # a day without lines: the header only
        digest = client.fetch_settlement(date(1999, 1, 1), out)
        assert out.getvalue().count(b"\n") == 1
        assert digest == hashlib.sha256(out.getvalue()).hexdigest()
    finally:
        for closing in (keyless, http, client):
            closing.close()
