"""The webhook sender's settings (runtime/config.py, docs/webhooks.md)."""

from __future__ import annotations

import pytest

from payments.runtime.config import ConfigError, Settings


def test_an_endpoint_may_hold_half_the_slots_unless_told_otherwise() -> None:
    assert (
        Settings.from_env({}).delivery.concurrency,
        Settings.from_env({}).delivery.per_endpoint,
    ) == (32, 16)
    assert Settings.from_env({"PAYMENTS_DELIVERY_CONCURRENCY": "5"}).delivery.per_endpoint == 3
    assert Settings.from_env({"PAYMENTS_DELIVERY_CONCURRENCY": "1"}).delivery.per_endpoint == 1
    told = {"PAYMENTS_DELIVERY_CONCURRENCY": "16", "PAYMENTS_DELIVERY_PER_ENDPOINT": "16"}
    assert Settings.from_env(told).delivery.per_endpoint == 16


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PAYMENTS_DELIVERY_CONCURRENCY": "4", "PAYMENTS_DELIVERY_PER_ENDPOINT": "5"},
            "PAYMENTS_DELIVERY_PER_ENDPOINT=5 must be between 1 and 4",
        ),
        ({"PAYMENTS_DELIVERY_PER_ENDPOINT": "0"}, "PAYMENTS_DELIVERY_PER_ENDPOINT=0 must be"),
        (
            {"PAYMENTS_DELIVERY_TIMEOUT_S": "30", "PAYMENTS_DELIVERY_LEASE_S": "60"},
            "PAYMENTS_DELIVERY_LEASE_S=60 must be more than twice PAYMENTS_DELIVERY_TIMEOUT_S=30",
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_at_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
