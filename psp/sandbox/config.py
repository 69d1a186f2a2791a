"""Everything the sandbox can be told at start; tests shorten the delays."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SandboxConfig:
    """Settings of one sandbox PSP process. Durations are seconds.

    There is no default webhook secret: a webhook URL without a secret is refused here, so no
    sandbox ever signs with a value published in its source.
    """

    db_path: Path
    host: str = "127.0.0.1"
    port: int = 8765
    webhook_url: str | None = None  # None: events are recorded but never delivered
    webhook_secret: str | None = field(default=None, repr=False)  # required with a webhook URL
    api_key: str | None = field(default=None, repr=False)  # None: every route is open
    # Keys card and bank fingerprints; None: one is generated per database and kept in it.
    fingerprint_secret: str | None = field(default=None, repr=False)
    pending_delay_s: float = 2.0  # card 4000000000003220: pending -> succeeded after this
    payout_delay_s: float = 0.5  # payout pending -> paid/failed after this
    payout_return_delay_s: float = 1.0  # return_* destinations: paid -> returned after this
    processing_error_attempts: int = 2  # card 4000000000000119 fails this often per key
    dispute_delay_s: float = 2.0  # card 4000000000000259: a dispute opens this long after
    dispute_fee_minor: int = 1500  # withdrawn with every dispute, kept even when it is won
    dispute_review_delay_s: float = 1.0  # evidence -> won/lost after this
    evidence_window_s: float = 7 * 24 * 3600.0  # evidence is due this long after opening
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

    def __post_init__(self) -> None:
        if self.webhook_url is not None and not self.webhook_secret:
            raise ValueError(
                "a webhook URL needs a webhook secret (--webhook-secret-file PATH or the"
                " environment variable PSP_SANDBOX_WEBHOOK_SECRET); there is no default"
            )
        if self.api_key is not None and not self.api_key:
            raise ValueError("the API key is empty")
