"""Endpoints whose deliveries have all failed for PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS are
disabled by the scheduler's webhook-endpoint-health job (docs/webhooks.md): an endpoint
failing that long is, one that delivered anything since, or failing for less, is not; the
disabled one says why, and can be enabled again. Unset, the job is skipped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from payments.runtime.config import ConfigError, Settings
from payments.runtime.scheduling import job_dependencies
from payments.runtime.services import Services
from payments.scheduler.jobs import job_by_id
from payments.scheduler.runner import run_job
from tests.conftest import NO_RATE_LIMITS, services_on_new_database
from tests.webhooks.conftest import AUDIT_KEY

URL = "https://shop.example/hooks"


@pytest.fixture(scope="module")
def services(admin_database_url: str) -> Iterator[Services]:
    with services_on_new_database(
        admin_database_url,
        PAYMENTS_AUDIT_KEY=AUDIT_KEY,
        PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS="3",
        **NO_RATE_LIMITS,
    ) as built:
        yield built


def endpoint_with(services: Services, deliveries: list[tuple[str, int]]) -> str:
    """An endpoint registered, with these deliveries (status, made how many days ago), oldest
    event first."""
    endpoint, _, _ = services.webhooks.register(
        uuid.uuid4().hex, URL, ["refund.failed"], "", "test-key"
    )
    services.webhooks.feed.run_until_idle()  # its subscription
    with services.pool.connection() as conn:
        for position, (status, days) in enumerate(deliveries, start=1):
            delivery_id = f"whd_{uuid.uuid4().hex}"
            conn.execute(
                "INSERT INTO webhook_deliveries (delivery_id, endpoint_id, event_id, event_type,"
                " position, body, status, next_attempt_at, created_at, delivered_at)"
                " VALUES (%s, %s, %s, 'refund.failed', %s, '{}', %s, now(),"
                " now() - make_interval(days => %s),"
                " CASE WHEN %s = 'delivered' THEN now() - make_interval(days => %s) END)",
                (delivery_id, endpoint.endpoint_id, f"evt_{delivery_id}", position, status,
                 days, status, days),
            )  # fmt: skip
    return endpoint.endpoint_id


def status(services: Services, endpoint_id: str) -> tuple[bool, str | None]:
    endpoint = services.webhooks.commands.get(endpoint_id)
    return endpoint.disabled, endpoint.disabled_reason


def test_an_endpoint_failing_for_days_is_disabled_and_no_other(services: Services) -> None:
    failing = endpoint_with(services, [("delivered", 9), ("failed", 5), ("failed", 4)])
    recovered = endpoint_with(services, [("failed", 5), ("delivered", 4), ("failed", 1)])
    lately = endpoint_with(services, [("failed", 2), ("pending", 1)])
    never_delivered = endpoint_with(services, [("failed", 6)])
    job = job_by_id(job_dependencies(services), "webhook-endpoint-health")
    run = run_job(services.pool, job, now=datetime.now(UTC))
    assert run is not None
    assert run.outcome == "ok", run.detail
    assert sorted(run.detail.split(": ", 1)[1].split(", ")) == sorted([failing, never_delivered])
    disabled, reason = status(services, failing)
    assert disabled
    assert reason is not None
    assert reason.startswith("every delivery failed since ")
    assert reason.endswith("disabled automatically after 3 day(s)")
    assert status(services, never_delivered)[0]
    assert not status(services, recovered)[0]
    assert not status(services, lately)[0]

    services.webhooks.feed.run_until_idle()  # the disabling applied: none found again
    assert services.webhooks.deliveries.failing_since(timedelta(days=3)) == {}
    services.webhooks.enable(failing, by="test-key")
    assert not status(services, failing)[0], "enabled again by the merchant"


def test_unset_the_job_is_skipped_and_the_setting_is_checked(admin_database_url: str) -> None:
    with services_on_new_database(admin_database_url, PAYMENTS_AUDIT_KEY=AUDIT_KEY) as plain:
        job = job_by_id(job_dependencies(plain), "webhook-endpoint-health")
        run = run_job(plain.pool, job, now=datetime.now(UTC))
        assert run is not None
        assert run.outcome == "skipped"
    env = {"PAYMENTS_DELIVERY_KEEP_DAYS": "7"}
    for value, says in [("8", "at most PAYMENTS_DELIVERY_KEEP_DAYS=7"), ("-1", "0"), ("x", "")]:
        with pytest.raises(ConfigError) as refused:
            Settings.from_env({**env, "PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS": value})
        assert "PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS" in str(refused.value)
        assert says in str(refused.value)
