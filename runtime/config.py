"""Configuration from PAYMENTS_* environment variables, validated once at start."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from payments.domain.application import CheckoutPolicy
from payments.domain.commission import NO_COMMISSION, Commission, RefundCommissionPolicy
from payments.domain.money import Money, MoneyError, currency_exponent
from payments.domain.risk_rules import NO_RULES, RiskRules
from payments.domain.seller_commands import (
    DEFAULT_SELLER_POLICY,
    SellerPolicy,
    SuspendedSellers,
    UnverifiedSellers,
)
from payments.runtime.risk_rules import RiskRulesError, load_risk_rules


class ConfigError(ValueError):
    """A PAYMENTS_* variable with a value we cannot use; the message names it."""


# The executor's defaults, named: `payments bench` runs the worker with them unless told
# otherwise, so that a benchmark measures what a deployment runs.
EXECUTOR_CONCURRENCY = 64  # PSP calls in flight: 64 at 50 ms each is 1,280 charges/s at most
EXECUTOR_BATCH_SIZE = 64


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    concurrency: int
    batch_size: int
    parallel_batches: int
    max_attempts: int
    backoff_base_s: float
    backoff_cap_s: float
    psp_timeout_s: float
    requery_delays_s: tuple[float, ...]
    lease_s: float


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How webhook deliveries to merchants' endpoints are sent and retried (ADR 0027)."""

    max_attempts: int = 16
    backoff_base_s: float = 10.0
    backoff_cap_s: float = 6 * 3600.0
    timeout_s: float = 10.0
    concurrency: int = 32  # threads POSTing at once, per sender
    per_endpoint: int = 16  # of those, at most this many POSTing to one endpoint
    lease_s: float = 120.0  # a claimed delivery is another sender's again after this long
    keep_days: int = 30  # deliveries no longer pending are deleted after this many days
    disable_after_days: int = 0  # an endpoint failing this long is disabled (0: never)


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None
    data_dir: Path
    currency: str
    max_amount_minor: int
    host: str
    port: int
    log_level: str
    idempotency_ttl_hours: int
    db_pool_size: int
    psp_url: str | None
    psp_sandbox_port: int
    webhook_secret: str | None  # resolved at start (runtime/secrets.py): never a public default
    audit_key: str | None
    executor: ExecutorSettings
    mode: str = "sandbox"  # or "production" (DESIGN §11)
    psp_api_key: str | None = None  # sent as a bearer token to the PSP
    trust_proxy: bool = False  # TLS ends at a proxy in front; X-Forwarded-* are believed
    schema_public: bool = True  # /schema without a key
    metrics_public: bool = False  # /metrics without a key
    seller_cache_s: float = (
        2.0  # charge checks' seller reads, kept this long (runtime/seller_cache.py)
    )
    group_commit_max: int = 64  # saves written in one transaction at most (ADR 0019); 1: off
    api_processes: int = 1  # HTTP processes sharing the port (ADR 0020); 1: the API in-process
    console_session_s: int = 8 * 3600  # a console sign-in lasts this long (docs/console.md)
    rate_limit_per_key: str = "1000/second"
    rate_limit_failed_auth: str = "20/minute"  # per client address
    payout_minimum_minor: int = 1000
    reconciliation_window_days: int = 3  # how long a settlement may lag before it is missing
    reconciliation_tolerance_minor: int = 0  # |PSP - ours| that still matches (written off)
    reconciliation_backfill_days: int = 31  # how far back the daily job reconciles missed days
    scheduler_daily_at: tuple[int, int] = (2, 0)  # UTC hour, minute of the daily finance jobs
    privacy_key_cache_s: float = 60.0  # how long a process seals with a key it looked up
    commission: Commission = NO_COMMISSION  # the platform's share of each order (ADR 0014)
    refund_commission: RefundCommissionPolicy = RefundCommissionPolicy.KEEP
    available_after_days: int | None = None  # None: funds become available on settlement
    sellers: SellerPolicy = DEFAULT_SELLER_POLICY  # PAYMENTS_UNVERIFIED_SELLERS & co. (ADR, #17)
    risk_rules: RiskRules = NO_RULES  # PAYMENTS_RISK_RULES, docs/risk.md
    backup_dir: Path | None = None  # the nightly backup's folder; None: no nightly backup
    backups_kept: int = 7  # the newest nightly backups kept there
    delivery: DeliverySettings = DeliverySettings()  # webhooks to merchants' endpoints

    @property
    def checkout_policy(self) -> CheckoutPolicy:
        return CheckoutPolicy(
            currency=self.currency,
            max_amount_minor=self.max_amount_minor,
            commission=self.commission,
            refund_commission=self.refund_commission,
            risk_rules=self.risk_rules,
        )

    @property
    def funds_available_on(self) -> str:
        """When a seller's pending share becomes available, as the wallet answer says it."""
        if self.available_after_days is None:
            return "settlement"
        return f"after {self.available_after_days} days"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        currency = env.get("PAYMENTS_CURRENCY", "USD").strip().upper()
        try:
            currency_exponent(currency)
        except MoneyError:
            raise ConfigError(
                f"PAYMENTS_CURRENCY={currency!r} is not a supported ISO 4217 code"
            ) from None
        max_amount_text = env.get("PAYMENTS_MAX_AMOUNT", "1000000")
        max_amount_minor = _amount_minor("PAYMENTS_MAX_AMOUNT", max_amount_text, currency)
        log_level = env.get("PAYMENTS_LOG_LEVEL", "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(
                f"PAYMENTS_LOG_LEVEL={log_level!r}: use DEBUG, INFO, WARNING or ERROR"
            )
        return cls(
            database_url=env.get("PAYMENTS_DATABASE_URL") or None,
            data_dir=Path(env.get("PAYMENTS_DATA_DIR", "data")).expanduser().resolve(),
            currency=currency,
            max_amount_minor=max_amount_minor,
            host=env.get("PAYMENTS_HOST", "127.0.0.1"),
            port=_int(env, "PAYMENTS_PORT", 8000, 1, 65535),
            log_level=log_level,
            idempotency_ttl_hours=_int(env, "PAYMENTS_IDEMPOTENCY_TTL_HOURS", 24, 24, 24 * 365),
            db_pool_size=_int(env, "PAYMENTS_DB_POOL_SIZE", 10, 1, 200),
            seller_cache_s=_float(env, "PAYMENTS_SELLER_CACHE_S", 2.0, 0, 60),
            group_commit_max=_int(env, "PAYMENTS_GROUP_COMMIT_MAX", 64, 1, 1000),
            api_processes=_int(env, "PAYMENTS_API_PROCESSES", 1, 1, 64),
            psp_url=env.get("PAYMENTS_PSP_URL") or None,
            psp_sandbox_port=_int(env, "PAYMENTS_PSP_SANDBOX_PORT", 8010, 1, 65535),
            webhook_secret=env.get("PAYMENTS_WEBHOOK_SECRET") or None,
            audit_key=env.get("PAYMENTS_AUDIT_KEY") or None,
            mode=_choice(env, "PAYMENTS_MODE", ("sandbox", "production")),
            psp_api_key=env.get("PAYMENTS_PSP_API_KEY") or None,
            trust_proxy=_flag(env, "PAYMENTS_TRUST_PROXY", False),
            schema_public=_flag(env, "PAYMENTS_SCHEMA_PUBLIC", True),
            metrics_public=_flag(env, "PAYMENTS_METRICS_PUBLIC", False),
            console_session_s=_int(env, "PAYMENTS_CONSOLE_SESSION_S", 8 * 3600, 5, 7 * 86400),
            rate_limit_per_key=_rate(env, "PAYMENTS_RATE_LIMIT_PER_KEY", "1000/second"),
            rate_limit_failed_auth=_rate(env, "PAYMENTS_RATE_LIMIT_FAILED_AUTH", "20/minute"),
            executor=ExecutorSettings(
                concurrency=_int(
                    env, "PAYMENTS_EXECUTOR_CONCURRENCY", EXECUTOR_CONCURRENCY, 1, 512
                ),
                batch_size=_int(env, "PAYMENTS_EXECUTOR_BATCH_SIZE", EXECUTOR_BATCH_SIZE, 1, 1000),
                parallel_batches=_int(env, "PAYMENTS_EXECUTOR_PARALLEL_BATCHES", 4, 1, 32),
                max_attempts=_int(env, "PAYMENTS_EXECUTOR_MAX_ATTEMPTS", 5, 1, 100),
                backoff_base_s=_float(env, "PAYMENTS_EXECUTOR_BACKOFF_BASE_S", 0.5, 0.001, 3600),
                backoff_cap_s=_float(env, "PAYMENTS_EXECUTOR_BACKOFF_CAP_S", 60.0, 0.001, 86400),
                psp_timeout_s=_float(env, "PAYMENTS_PSP_TIMEOUT_S", 10.0, 0.05, 300),
                requery_delays_s=_floats(
                    env, "PAYMENTS_REQUERY_DELAYS_S", (300.0, 3600.0, 86400.0)
                ),
                lease_s=_float(env, "PAYMENTS_EXECUTOR_LEASE_S", 30.0, 0.5, 3600),
            ),
            payout_minimum_minor=_payout_minimum(env, currency),
            scheduler_daily_at=_time_of_day(env, "PAYMENTS_SCHEDULER_DAILY_AT", (2, 0)),
            reconciliation_window_days=_int(env, "PAYMENTS_RECONCILIATION_WINDOW_DAYS", 3, 0, 365),
            reconciliation_tolerance_minor=_tolerance(env, currency, max_amount_minor),
            reconciliation_backfill_days=_int(
                env, "PAYMENTS_RECONCILIATION_BACKFILL_DAYS", 31, 1, 366
            ),
            privacy_key_cache_s=_float(env, "PAYMENTS_PRIVACY_KEY_CACHE_S", 60.0, 0, 3600),
            backup_dir=_folder(env, "PAYMENTS_BACKUP_DIR"),
            backups_kept=_int(env, "PAYMENTS_BACKUPS_KEPT", 7, 1, 3650),
            delivery=_delivery(env),
            commission=_commission(env, currency),
            refund_commission=RefundCommissionPolicy(
                _choice(env, "PAYMENTS_REFUND_COMMISSION", ("keep", "return"))
            ),
            sellers=SellerPolicy(
                UnverifiedSellers(
                    _choice(env, "PAYMENTS_UNVERIFIED_SELLERS", ("accept_charges", "refuse"))
                ),
                SuspendedSellers(
                    _choice(env, "PAYMENTS_SUSPENDED_SELLERS", ("refuse_charges", "accept_charges"))
                ),
                payouts_require_kyc=_flag(env, "PAYMENTS_PAYOUTS_REQUIRE_KYC", True),
            ),
            available_after_days=(
                _int(env, "PAYMENTS_AVAILABLE_AFTER_DAYS", 0, 0, 365)
                if env.get("PAYMENTS_AVAILABLE_AFTER_DAYS")
                else None
            ),
            risk_rules=_risk_rules(env, currency),
        )


def _delivery(env: Mapping[str, str]) -> DeliverySettings:
    concurrency = _int(env, "PAYMENTS_DELIVERY_CONCURRENCY", 32, 1, 128)
    settings = DeliverySettings(
        max_attempts=_int(env, "PAYMENTS_DELIVERY_MAX_ATTEMPTS", 16, 1, 100),
        backoff_base_s=_float(env, "PAYMENTS_DELIVERY_BACKOFF_BASE_S", 10.0, 0.001, 86400),
        backoff_cap_s=_float(env, "PAYMENTS_DELIVERY_BACKOFF_CAP_S", 21600.0, 0.001, 604800),
        timeout_s=_float(env, "PAYMENTS_DELIVERY_TIMEOUT_S", 10.0, 0.1, 60),
        concurrency=concurrency,
        # by default half the slots, so that one slow endpoint leaves the others half
        per_endpoint=_int(
            env, "PAYMENTS_DELIVERY_PER_ENDPOINT", (concurrency + 1) // 2, 1, concurrency
        ),
        lease_s=_float(env, "PAYMENTS_DELIVERY_LEASE_S", 120.0, 0.5, 3600),
        keep_days=_int(env, "PAYMENTS_DELIVERY_KEEP_DAYS", 30, 1, 3650),
        disable_after_days=_int(env, "PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS", 0, 0, 365),
    )
    if settings.disable_after_days > settings.keep_days:
        # The failures that count must still be there to be counted.
        raise ConfigError(
            f"PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS={settings.disable_after_days} must be at "
            f"most PAYMENTS_DELIVERY_KEEP_DAYS={settings.keep_days}"
        )
    if settings.lease_s <= 2 * settings.timeout_s:
        # A delivery still being sent must not be claimed again by another sender.
        raise ConfigError(
            f"PAYMENTS_DELIVERY_LEASE_S={settings.lease_s:g} must be more than twice "
            f"PAYMENTS_DELIVERY_TIMEOUT_S={settings.timeout_s:g}"
        )
    return settings


def _risk_rules(env: Mapping[str, str], currency: str) -> RiskRules:
    text = env.get("PAYMENTS_RISK_RULES", "").strip()
    if not text:
        return NO_RULES
    try:
        return load_risk_rules(Path(text).expanduser(), currency)
    except RiskRulesError as error:
        raise ConfigError(f"PAYMENTS_RISK_RULES={text!r}: {error}") from None


def _commission(env: Mapping[str, str], currency: str) -> Commission:
    """PAYMENTS_COMMISSION: "2.5%+0.30", "2.5%", "0.30" or "0" (the default)."""
    text = env.get("PAYMENTS_COMMISSION") or "0"
    try:
        return Commission.parse(text, currency)
    except MoneyError as error:
        raise ConfigError(f"PAYMENTS_COMMISSION={text!r}: {error}") from None


def _amount_minor(name: str, text: str, currency: str, *, positive: bool = True) -> int:
    """The setting `name`, an amount such as "0.05" in `currency`, in minor units."""
    try:
        minor = Money.parse(text, currency).minor
    except MoneyError as error:
        raise ConfigError(f"{name}={text!r}: {error}") from None
    if positive and minor <= 0:
        raise ConfigError(f"{name} must be greater than zero")
    return minor


def _payout_minimum(env: Mapping[str, str], currency: str) -> int:
    text = env.get("PAYMENTS_PAYOUT_MINIMUM") or "10"
    return _amount_minor("PAYMENTS_PAYOUT_MINIMUM", text, currency)


def _tolerance(env: Mapping[str, str], currency: str, max_amount_minor: int) -> int:
    """PAYMENTS_RECONCILIATION_TOLERANCE: an amount like "0.05"; zero (the default) means
    amounts must agree exactly."""
    name = "PAYMENTS_RECONCILIATION_TOLERANCE"
    text = env.get(name) or "0"
    tolerance = _amount_minor(name, text, currency, positive=False)
    if tolerance > max_amount_minor:
        raise ConfigError(f"{name}={text!r} must not exceed PAYMENTS_MAX_AMOUNT")
    return tolerance


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={value!r}: use {' or '.join(choices)}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = (env.get(name) or "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={text!r}: use 1 or 0 (true or false)")


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse

    text = (env.get(name) or default).strip()
    try:
        parse(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: use a rate such as 100/second or 20/minute") from None
    return text


def _time_of_day(env: Mapping[str, str], name: str, default: tuple[int, int]) -> tuple[int, int]:
    text = env.get(name)
    if not text:
        return default
    hour, _, minute = text.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ConfigError(f"{name}={text!r}: use HH:MM in UTC, e.g. 02:00")
    return int(hour), int(minute)


Number = TypeVar("Number", int, float)


def _number(
    env: Mapping[str, str],
    name: str,
    default: Number,
    low: Number,
    high: Number,
    parse: Callable[[str], Number],
    noun: str,
) -> Number:
    """The setting `name` as `parse` reads it, from low to high; `default` when unset."""
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = parse(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not {noun}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} must be between {low} and {high}")
    return value


def _folder(env: Mapping[str, str], name: str) -> Path | None:
    text = env.get(name, "").strip()
    return Path(text).expanduser().resolve() if text else None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return _number(env, name, default, low, high, int, "an integer")


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    return _number(env, name, default, low, high, float, "a number")


def _floats(env: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"{name}={text!r}: use comma-separated seconds, e.g. 300,3600") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"{name}={text!r}: every delay must be greater than zero")
    return values
