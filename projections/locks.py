"""Every PostgreSQL advisory lock of the system, in one place so that no two uses share an id.

PostgreSQL has one advisory-lock namespace per database. Ours are two-int locks: the class
below first, then a key (0, or the crc32 of a name via `lock_key`). A new use takes a new class.
"""

from __future__ import annotations

import zlib

SCHEMA_CLASS = 7261001  # transaction lock: one process applies the DDL at a time
RUNNER_CLASS = 7261002  # session lock, per projection: at most one runner
WRITE_CLASS = 7261003  # transaction lock, per view or follower: one writer, and the rebuild swap
REBUILD_CLASS = 7261004  # session lock, per projection: one rebuild or verification
SCHEDULER_CLASS = 7261005  # session try-lock, per job: one run at a time across processes
SEAL_CLASS = 7261010  # transaction lock: one seal of the event log at a time
EVENT_STORE_SCHEMA_CLASS = 7261011  # session lock: one process creates the event store's tables
VERIFICATION_CLASS = 7261012  # session try-lock: one verifications runner; xact: one request


def lock_key(name: str) -> int:
    """A stable non-negative int4 for a name (Python's hash() changes per process)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF
