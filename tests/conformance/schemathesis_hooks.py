"""Hooks of the schemathesis runs in test_schemathesis.py and test_sandbox_schemathesis.py
(named in their configs, schemathesis.toml and sandbox_schemathesis.toml)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis

_VALID_KEY = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """A fresh Idempotency-Key for every call that carries a valid one.

    Generated keys repeat ("0", "A"), and a repeated key with another body is rightly a 422,
    which would end every stateful scenario at its first create. Missing or malformed keys stay
    as generated, so those checks still run.
    """
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and _VALID_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = f"st-{uuid.uuid4()}"
