"""Payouts run on the executor's stack: real sandbox PSP over HTTP, API, executor, views.

Funds become available at once here (PAYMENTS_AVAILABLE_AFTER_DAYS=0), so that a payout test
needs no settlement file; tests/payouts/test_funds_release.py covers the settlement rule.
"""

from __future__ import annotations

from tests.executor.conftest import stack_fixture

stack = stack_fixture(PAYMENTS_AVAILABLE_AFTER_DAYS="0")
