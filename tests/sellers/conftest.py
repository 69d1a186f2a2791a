"""Sellers on the executor's stack: real sandbox PSP (its onboarding) over HTTP, API, executor.

Funds become available at once here (PAYMENTS_AVAILABLE_AFTER_DAYS=0), so that a payout test
needs no settlement file; tests/payouts/test_funds_release.py covers the settlement rule.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.executor.conftest import Stack, running_stack


@pytest.fixture(scope="module")
def stack(admin_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        admin_database_url, tmp_path_factory, PAYMENTS_AVAILABLE_AFTER_DAYS="0"
    ) as s:
        yield s
