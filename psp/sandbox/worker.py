"""The background task: apply due status changes, then deliver due webhooks, forever."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.disputes import decide_dispute, open_scheduled_dispute
from payments.psp.sandbox.lifecycle import (
    TransitionApplier,
    apply_due_transitions,
    settle_charge,
    settle_payout,
)
from payments.psp.sandbox.refunds import settle_refund
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.webhooks import (
    WebhookPoster,
    deliver_due_webhooks,
    release_held_deliveries,
)

logger = logging.getLogger("psp.sandbox.worker")


def transition_appliers(config: SandboxConfig) -> dict[str, TransitionApplier]:
    """Who applies each kind of delayed status change (see lifecycle.py)."""
    return {
        "charge": settle_charge,
        "payout": settle_payout,
        "refund": settle_refund,
        "dispute": decide_dispute,
        "dispute_opening": open_scheduled_dispute(config),
    }


async def run_background_work(sandbox: Sandbox) -> None:
    """Loop until cancelled; an error in one round is logged and the next round goes on.

    Webhooks are POSTed from a thread of the worker's own (urllib3: a fraction of an async
    client's CPU per request, docs/performance.md), so the event loop keeps serving the API."""
    appliers = transition_appliers(sandbox.config)
    poster = WebhookPoster(sandbox.config.webhook_timeout_s)
    rounds = ThreadPoolExecutor(1, thread_name_prefix="webhooks")
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                apply_due_transitions(sandbox.store, sandbox.faults, appliers)
                release_held_deliveries(sandbox.store, sandbox.faults)
                await loop.run_in_executor(
                    rounds, deliver_due_webhooks, sandbox.store, sandbox.config, poster
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("background round failed; retrying")
            await asyncio.sleep(sandbox.config.worker_poll_s)
    finally:  # the POST in flight ends (at most the webhook timeout), then the round stops
        poster.stop()
        rounds.shutdown(wait=True)
