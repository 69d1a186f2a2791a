"""A real sandbox PSP (disputes open, are reviewed and expire within seconds), our API on a
real port for its webhooks, the views and an executor: the dispute flows end to end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.executor.conftest import Stack, running_stack

EVIDENCE_WINDOW_S = 3600.0  # how long a dispute awaits evidence (a module may set its own)


@pytest.fixture(scope="module")
def stack(
    admin_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Stack]:
    window = getattr(request.module, "EVIDENCE_WINDOW_S", EVIDENCE_WINDOW_S)
    options = ("--dispute-delay", "0.5", "--dispute-review-delay", "0.3")
    with running_stack(
        admin_database_url,
        tmp_path_factory,
        (*options, "--evidence-window", str(window)),
        PAYMENTS_PSP_TIMEOUT_S="2",
        PAYMENTS_REFUND_COMMISSION="return",
    ) as running:
        yield running
