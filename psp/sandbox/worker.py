"""The background task: apply due status changes, then deliver due webhooks, forever."""

from __future__ import annotations

import asyncio
import logging

import httpx

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
from payments.psp.sandbox.webhooks import deliver_due_webhooks, release_held_deliveries

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
    """Loop until cancelled; an error in one round is logged and the next round goes on."""
    appliers = transition_appliers(sandbox.config)
    async with httpx.AsyncClient() as client:
        while True:
            try:
                apply_due_transitions(sandbox.store, sandbox.faults, appliers)
                release_held_deliveries(sandbox.store, sandbox.faults)
                await deliver_due_webhooks(sandbox.store, sandbox.config, client)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("background round failed; retrying")
            await asyncio.sleep(sandbox.config.worker_poll_s)
