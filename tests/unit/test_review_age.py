"""How long an order has waited for review, as the console's Risk reviews page says it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments.api.console.risk_reviews import age

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("waited", "said"),
    [
        (timedelta(seconds=59), "0 min"),
        (timedelta(minutes=7, seconds=30), "7 min"),
        (timedelta(hours=2, minutes=5), "2 h 5 min"),
        (timedelta(days=1, hours=4, minutes=59), "1 d 4 h"),
        (timedelta(seconds=-5), "0 min"),  # a clock a little behind the database's
    ],
)
def test_the_age_is_said_in_its_two_largest_units(waited: timedelta, said: str) -> None:
    assert age(NOW - waited, NOW) == said
