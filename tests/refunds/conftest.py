"""Refund tests run on the executor tests' stack: a sandbox PSP process over real HTTP, our
API on a real port (for the sandbox's webhooks), an executor, PostgreSQL."""

from __future__ import annotations

from tests.executor.conftest import stack

__all__ = ["stack"]
