"""The console's webhook tests' stack and endpoints: a stack that derives endpoint secrets and
fails a delivery for good at its first refused attempt, and endpoints registered over the
API that post where nothing listens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.console.conftest import Console, console_on

NOBODY = "http://127.0.0.1:9/hooks"  # nothing listens there: every attempt is refused


def console_fixture() -> Any:
    """A module's `console` fixture: a stack that derives endpoint secrets
    (PAYMENTS_AUDIT_KEY) and fails a delivery for good at its first refused attempt."""

    @pytest.fixture(scope="module")
    def console(
        admin_database_url: str, tmp_path_factory: pytest.TempPathFactory, browser: Any
    ) -> Iterator[Console]:
        with console_on(
            admin_database_url,
            tmp_path_factory,
            browser,
            PAYMENTS_AUDIT_KEY="console-webhooks-test-key-0123456789abcdef",
            PAYMENTS_DELIVERY_MAX_ATTEMPTS="1",
        ) as console:
            yield console

    return console


def register(console: Console, key: dict[str, str], event_type: str, description: str) -> str:
    """An endpoint registered over the API with this key, posting to NOBODY: its id."""
    answer = console.stack.http.post(
        "/webhook-endpoints",
        json={"url": NOBODY, "event_types": [event_type], "description": description},
        headers={**key, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["endpoint_id"])
