"""Everything the sandbox can be told at start; tests shorten the delays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SandboxConfig:
    """Settings of one sandbox PSP process. Durations are seconds."""

    db_path: Path
    host: str = "127.0.0.1"
    port: int = 8765
    webhook_url: str | None = None  # None: events are recorded but never delivered
    webhook_secret: str = "whsec_sandbox"  # noqa: S105 - a sandbox default, not a credential
    fingerprint_secret: str = "sandbox-fingerprint"  # noqa: S105 - likewise
    pending_delay_s: float = 2.0  # card 4000000000003220: pending -> succeeded after this
    payout_delay_s: float = 0.5  # payout pending -> paid/failed after this
    payout_return_delay_s: float = 1.0  # return_* destinations: paid -> returned after this
    processing_error_attempts: int = 2  # card 4000000000000119 fails this often per key
    webhook_retry_base_s: float = 1.0
    webhook_retry_cap_s: float = 30.0
    webhook_timeout_s: float = 5.0
    worker_poll_s: float = 0.05
    timeout_fault_s: float = 30.0  # the "timeout" fault sleeps this long before answering
    company_account: str = "SandboxCompany"
    merchant_account: str = "SandboxMerchant"
    fee_percent_bps: int = 290  # commission = amount * 2.90 %, rounded half up ...
    fee_fixed_minor: int = 30  # ... plus 30 minor units, never more than the amount
    settlement_currency: str = "USD"
    max_body_bytes: int = 64 * 1024
