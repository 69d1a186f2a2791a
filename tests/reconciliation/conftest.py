"""The real sandbox PSP, our API and an executor (the executor tests' stack), one per module."""

from tests.executor.conftest import stack

__all__ = ["stack"]
