"""`payments api` killed while its verification runs: the row stays `running` until another
process's runner takes the queue; that one fails it as abandoned (the first read of it is
enough) and runs the next request to the end."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from payments.projections.audit.verifications import ABANDONED
from payments.projections.catalog import live_view
from payments.projections.pg import qualify
from payments.runtime.services import Services
from tests.audit.conftest import tell_story
from tests.conftest import NO_RATE_LIMITS, bearer
from tests.e2e.processes import Process, free_port
from tests.projections.conftest import catch_up_all
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def start_api(services: Services, tmp_path: Path, name: str) -> tuple[Process, str]:
    port = free_port()
    env = {
        "PAYMENTS_DATABASE_URL": services.database_url,
        "PAYMENTS_PORT": str(port),
        "PAYMENTS_DATA_DIR": str(tmp_path / "data"),
        **NO_RATE_LIMITS,
    }
    api = Process(["api"], env, tmp_path / f"{name}.log")
    url = f"http://127.0.0.1:{port}"
    api.wait_http(f"{url}/health")
    return api, url


def test_a_verification_whose_process_was_killed_is_failed_and_the_next_one_runs(
    services: Services, tmp_path: Path
) -> None:
    tell_story(services)
    catch_up_all(services)
    headers = bearer(services, "finance")
    table = qualify(None, live_view(services.pool, "order_status").tables[0])
    first, url = start_api(services, tmp_path, "api1")
    try:
        with psycopg.connect(services.database_url) as blocker:
            # The verification reaches the live view only after it is claimed: it waits there.
            blocker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            created = httpx.post(
                f"{url}/audit/verifications",
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert created.status_code == 202, created.text
            orphan = created.json()["url"]
            wait_until(
                lambda: httpx.get(url + orphan, headers=headers).json()["state"] == "running"
            )
            first.kill()
            blocker.rollback()
    finally:
        if first.popen.poll() is None:
            first.kill()

    second, url = start_api(services, tmp_path, "api2")
    try:
        assert httpx.get(url + orphan, headers=headers).json()["state"] == "running"
        wait_until(lambda: httpx.get(url + orphan, headers=headers).json()["state"] == "failed")
        left = httpx.get(url + orphan, headers=headers).json()
        assert (left["error"], left["results"]) == (ABANDONED, [])
        again = httpx.post(
            f"{url}/audit/verifications",
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        ).json()["url"]
        wait_until(
            lambda: (
                httpx.get(url + again, headers=headers).json()["state"] not in ("queued", "running")
            ),
            timeout=60,
        )
        assert httpx.get(url + again, headers=headers).json()["state"] == "identical"
    finally:
        second.interrupt()
