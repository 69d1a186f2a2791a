"""Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").

Kept here, in a few lines, because the delay must be stored in an event (next_attempt_at) so
that a restart resumes the schedule; retry libraries keep their schedule in memory.
"""

from __future__ import annotations

import random


def full_jitter_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """A delay in [0, min(cap, base * 2**(attempt-1))] seconds for the given attempt (>= 1)."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    return rng.uniform(0, ceiling)
