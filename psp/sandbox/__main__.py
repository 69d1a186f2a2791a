"""`python -m payments.psp.sandbox --port N --db PATH [--webhook-url URL ...]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.server import run_sandbox


def parse_arguments(argv: list[str] | None = None) -> tuple[SandboxConfig, str]:
    defaults = SandboxConfig(db_path=Path("psp-sandbox.sqlite3"))
    parser = argparse.ArgumentParser(prog="python -m payments.psp.sandbox", description=__doc__)
    parser.add_argument("--db", type=Path, required=True, help="SQLite file of the sandbox state")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--webhook-url", default=None, help="where events are POSTed (optional)")
    parser.add_argument("--webhook-secret", default=defaults.webhook_secret)
    parser.add_argument("--fingerprint-secret", default=defaults.fingerprint_secret)
    parser.add_argument("--pending-delay", type=float, default=defaults.pending_delay_s)
    parser.add_argument("--payout-delay", type=float, default=defaults.payout_delay_s)
    parser.add_argument("--payout-return-delay", type=float, default=defaults.payout_return_delay_s)
    parser.add_argument("--webhook-retry-base", type=float, default=defaults.webhook_retry_base_s)
    parser.add_argument("--webhook-retry-cap", type=float, default=defaults.webhook_retry_cap_s)
    parser.add_argument("--webhook-timeout", type=float, default=defaults.webhook_timeout_s)
    parser.add_argument("--worker-poll", type=float, default=defaults.worker_poll_s)
    parser.add_argument("--timeout-fault-seconds", type=float, default=defaults.timeout_fault_s)
    parser.add_argument("--company-account", default=defaults.company_account)
    parser.add_argument("--merchant-account", default=defaults.merchant_account)
    parser.add_argument("--fee-percent-bps", type=int, default=defaults.fee_percent_bps)
    parser.add_argument("--fee-fixed-minor", type=int, default=defaults.fee_fixed_minor)
    parser.add_argument("--settlement-currency", default=defaults.settlement_currency)
    parser.add_argument("--log-level", default="info")
    arguments = parser.parse_args(argv)
    config = SandboxConfig(
        db_path=arguments.db,
        host=arguments.host,
        port=arguments.port,
        webhook_url=arguments.webhook_url,
        webhook_secret=arguments.webhook_secret,
        fingerprint_secret=arguments.fingerprint_secret,
        pending_delay_s=arguments.pending_delay,
        payout_delay_s=arguments.payout_delay,
        payout_return_delay_s=arguments.payout_return_delay,
        webhook_retry_base_s=arguments.webhook_retry_base,
        webhook_retry_cap_s=arguments.webhook_retry_cap,
        webhook_timeout_s=arguments.webhook_timeout,
        worker_poll_s=arguments.worker_poll,
        timeout_fault_s=arguments.timeout_fault_seconds,
        company_account=arguments.company_account,
        merchant_account=arguments.merchant_account,
        fee_percent_bps=arguments.fee_percent_bps,
        fee_fixed_minor=arguments.fee_fixed_minor,
        settlement_currency=arguments.settlement_currency,
    )
    return config, str(arguments.log_level)


def main(argv: list[str] | None = None) -> None:
    config, log_level = parse_arguments(argv)
    run_sandbox(config, log_level=log_level)


if __name__ == "__main__":
    main()
