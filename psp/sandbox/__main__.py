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

# The settings tuned from the command line, in --help's order: (flag, SandboxConfig's field,
# its type, help). Each flag's default is the field's.
TUNING: tuple[tuple[str, str, type, str | None], ...] = (
    ("--pending-delay", "pending_delay_s", float, None),
    ("--payout-delay", "payout_delay_s", float, None),
    ("--payout-return-delay", "payout_return_delay_s", float, None),
    ("--dispute-delay", "dispute_delay_s", float, None),
    ("--dispute-fee-minor", "dispute_fee_minor", int, None),
    ("--dispute-review-delay", "dispute_review_delay_s", float, None),
    (
        "--evidence-window",
        "evidence_window_s",
        float,
        "seconds from a dispute's opening to its evidence deadline (default 7 days)",
    ),
    ("--webhook-retry-base", "webhook_retry_base_s", float, None),
    ("--webhook-retry-cap", "webhook_retry_cap_s", float, None),
    ("--webhook-timeout", "webhook_timeout_s", float, None),
    ("--worker-poll", "worker_poll_s", float, None),
    ("--timeout-fault-seconds", "timeout_fault_s", float, None),
    ("--company-account", "company_account", str, None),
    ("--merchant-account", "merchant_account", str, None),
    ("--fee-percent-bps", "fee_percent_bps", int, None),
    ("--fee-fixed-minor", "fee_fixed_minor", int, None),
    ("--settlement-currency", "settlement_currency", str, None),
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
    for flag, field, kind, explained in TUNING:
        parser.add_argument(flag, type=kind, default=getattr(defaults, field), help=explained)
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
    tuned = {field: getattr(arguments, flag[2:].replace("-", "_")) for flag, field, *_ in TUNING}
    return SandboxConfig(
        db_path=arguments.db,
        host=arguments.host,
        port=arguments.port,
        webhook_url=arguments.webhook_url,
        webhook_secret=webhook_secret,
        api_key=api_key,
        fingerprint_secret=arguments.fingerprint_secret,
        **tuned,
    )


def main(argv: list[str] | None = None) -> None:
    config, log_level = parse_arguments(argv)
    run_sandbox(config, log_level=log_level)


if __name__ == "__main__":
    main()
