"""Payouts run on the executor's stack: real sandbox PSP over HTTP, API, executor, views."""

from __future__ import annotations

from tests.executor.conftest import stack

__all__ = ["stack"]
