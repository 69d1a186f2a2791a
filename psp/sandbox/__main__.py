"""`python -m payments.psp.sandbox --port N --db PATH [--webhook-url URL ...]`.

Secrets come from files or the environment, never from a default: the webhook secret from
`--webhook-secret-file` or PSP_SANDBOX_WEBHOOK_SECRET (required with --webhook-url), the API key
from `--api-key-file` or PSP_SANDBOX_API_KEY (optional; once set, calls need it as a bearer token).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.credentials import (
    API_KEY_ENV,
    WEBHOOK_SECRET_ENV,
    SecretError,
    resolve_secret,
)
from payments.psp.sandbox.server import run_sandbox

VISIBLE_SECRET_WARNING = (
    "warning: --webhook-secret is visible to every user of this machine in `ps`;"
    f" use --webhook-secret-file PATH or {WEBHOOK_SECRET_ENV} instead"
)


def parse_arguments(
    argv: list[str] | None = None, environment: Mapping[str, str] | None = None
) -> tuple[SandboxConfig, str]:
    """The configuration from the command line and the environment; exits 2 with a message if
    a secret is missing, unreadable or given twice."""
    environment = os.environ if environment is None else environment
    defaults = SandboxConfig(db_path=Path("psp-sandbox.sqlite3"))
    parser = argparse.ArgumentParser(
        prog="python -m payments.psp.sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", type=Path, required=True, help="SQLite file of the sandbox state")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--webhook-url", default=None, help="where events are POSTed (optional)")
    parser.add_argument(
        "--webhook-secret-file",
        type=Path,
        default=None,
        help=f"file holding the webhook signing secret (or set {WEBHOOK_SECRET_ENV})",
    )
    parser.add_argument(
        "--webhook-secret",
        default=None,
        help="the webhook secret itself: visible in `ps`, prefer --webhook-secret-file",
    )
    parser.add_argument(
        "--api-key-file",
        type=Path,
        default=None,
        help=f"file holding the API key callers must send as a bearer token (or set {API_KEY_ENV});"
        " unset: every route is open",
    )
    parser.add_argument(
        "--fingerprint-secret",
        default=None,
        help="keys card and bank fingerprints (default: generated once, kept in the database)",
    )
    parser.add_argument("--pending-delay", type=float, default=defaults.pending_delay_s)
    parser.add_argument("--payout-delay", type=float, default=defaults.payout_delay_s)
    parser.add_argument("--payout-return-delay", type=float, default=defaults.payout_return_delay_s)
    parser.add_argument("--dispute-delay", type=float, default=defaults.dispute_delay_s)
    parser.add_argument("--dispute-fee-minor", type=int, default=defaults.dispute_fee_minor)
    parser.add_argument(
        "--dispute-review-delay", type=float, default=defaults.dispute_review_delay_s
    )
    parser.add_argument(
        "--evidence-window",
        type=float,
        default=defaults.evidence_window_s,
        help="seconds from a dispute's opening to its evidence deadline (default 7 days)",
    )
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
    if arguments.webhook_secret is not None:
        print(VISIBLE_SECRET_WARNING, file=sys.stderr)
    try:
        webhook_secret = resolve_secret(
            "webhook secret",
            file=arguments.webhook_secret_file,
            inline=arguments.webhook_secret,
            environment_value=environment.get(WEBHOOK_SECRET_ENV),
        )
        api_key = resolve_secret(
            "API key",
            file=arguments.api_key_file,
            inline=None,
            environment_value=environment.get(API_KEY_ENV),
        )
        config = _config_of(arguments, webhook_secret, api_key)
    except (SecretError, ValueError) as error:
        parser.error(str(error))
    return config, str(arguments.log_level)


def _config_of(
    arguments: argparse.Namespace, webhook_secret: str | None, api_key: str | None
) -> SandboxConfig:
    return SandboxConfig(
        db_path=arguments.db,
        host=arguments.host,
        port=arguments.port,
        webhook_url=arguments.webhook_url,
        webhook_secret=webhook_secret,
        api_key=api_key,
        fingerprint_secret=arguments.fingerprint_secret,
        pending_delay_s=arguments.pending_delay,
        payout_delay_s=arguments.payout_delay,
        payout_return_delay_s=arguments.payout_return_delay,
        dispute_delay_s=arguments.dispute_delay,
        dispute_fee_minor=arguments.dispute_fee_minor,
        dispute_review_delay_s=arguments.dispute_review_delay,
        evidence_window_s=arguments.evidence_window,
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


def main(argv: list[str] | None = None) -> None:
    config, log_level = parse_arguments(argv)
    run_sandbox(config, log_level=log_level)


if __name__ == "__main__":
    main()
