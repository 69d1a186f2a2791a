"""The secrets a deployment runs with, none of them with a public default (DESIGN §11).

In sandbox mode with the bundled sandbox PSP (PAYMENTS_PSP_URL unset), the webhook secret and
the audit key are generated on first start and kept in `$PAYMENTS_DATA_DIR/secrets/` (a 0700
directory, 0600 files); every process of the deployment reads the same files. With a real
PSP the webhook secret must be configured; production mode refuses generated secrets, the
sandbox, and plain HTTP unless a TLS-terminating proxy is declared.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from payments.runtime.config import ConfigError, Settings

SANDBOX_WEBHOOK_PREFIX = "whsec_sbx_"  # generated secrets say so: production refuses them
# The constant v0.1 printed in its README: anyone could sign with it, so nobody may.
PUBLISHED_SECRETS = frozenset({"whsec_sandbox_development_only"})


def secrets_dir(settings: Settings) -> Path:
    return settings.data_dir / "secrets"


def _kept(path: Path, make: str) -> str:
    """The secret in `path`, written there first (0600, never overwritten) if absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as out:
        out.write(make + "\n")
    return make


def webhook_secret_file(settings: Settings) -> Path:
    return secrets_dir(settings) / "webhook_secret"


def _written(path: Path, value: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(value + "\n")
    return path


def sandbox_secret_files(settings: Settings) -> tuple[Path, Path | None]:
    """The webhook secret and PAYMENTS_PSP_API_KEY (if set) in 0600 files for the bundled
    sandbox, which reads them from there: a secret on a command line is visible in `ps`."""
    assert settings.webhook_secret is not None, "resolve the secrets first (with_secrets)"
    directory = secrets_dir(settings) / "sandbox"
    webhook = _written(directory / "webhook_secret", settings.webhook_secret)
    if settings.psp_api_key is None:
        return webhook, None
    return webhook, _written(directory / "api_key", settings.psp_api_key)


def require_https(settings: Settings, *, tls: bool) -> None:
    """A serving process in production mode speaks HTTPS, or sits behind a proxy that does."""
    if settings.mode == "production" and not (tls or settings.trust_proxy):
        raise ConfigError(
            "PAYMENTS_MODE=production serves HTTPS only: pass --ssl-certfile/--ssl-keyfile, "
            "or set PAYMENTS_TRUST_PROXY=1 behind a proxy that terminates TLS"
        )


def with_secrets(settings: Settings) -> Settings:
    """Settings with every secret resolved, or ConfigError saying what is missing or unsafe."""
    webhook, audit = settings.webhook_secret, settings.audit_key
    bundled_sandbox = settings.psp_url is None
    if webhook in PUBLISHED_SECRETS:
        raise ConfigError("PAYMENTS_WEBHOOK_SECRET is a published value: set a secret of yours")
    if settings.mode == "production":
        if bundled_sandbox:
            raise ConfigError("PAYMENTS_MODE=production needs a real PSP: set PAYMENTS_PSP_URL")
        if not webhook or webhook.startswith(SANDBOX_WEBHOOK_PREFIX):
            raise ConfigError(
                "PAYMENTS_MODE=production needs PAYMENTS_WEBHOOK_SECRET from your PSP "
                "(a sandbox-generated secret is refused)"
            )
        if not audit:
            raise ConfigError("PAYMENTS_MODE=production needs PAYMENTS_AUDIT_KEY")
        return settings
    if not webhook:
        if not bundled_sandbox:
            raise ConfigError(
                "PAYMENTS_WEBHOOK_SECRET is required with a real PSP (PAYMENTS_PSP_URL): "
                "copy it from the PSP's webhook settings"
            )
        webhook = _kept(
            webhook_secret_file(settings), SANDBOX_WEBHOOK_PREFIX + secrets.token_urlsafe(32)
        )
    if not audit and bundled_sandbox:
        audit = _kept(secrets_dir(settings) / "audit_key", secrets.token_urlsafe(32))
    return dataclasses.replace(settings, webhook_secret=webhook, audit_key=audit)


def console_secret(settings: Settings, purpose: str) -> bytes:
    """32 bytes for the console's session cookie or CSRF tokens, derived (HKDF-SHA256) from
    the audit key, which every deployment has once its secrets are resolved. Without one
    (an app built for tests), random bytes: sign-ins then last as long as the process."""
    if not settings.audit_key:
        return secrets.token_bytes(32)
    derive = HKDF(hashes.SHA256(), 32, salt=None, info=f"payments console {purpose}".encode())
    return derive.derive(settings.audit_key.encode())


def endpoint_secret(audit_key: str, endpoint_id: str, generation: int) -> str:
    """The signing secret of a webhook endpoint's `generation` (ADR 0027): derived (HKDF-SHA256)
    from the audit key, so no secret is stored, and every process of the deployment signs
    alike. The merchant reads it with GET /webhook-endpoints/{id}/secret."""
    info = f"payments webhook endpoint {endpoint_id} {generation}".encode()
    derived = HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(audit_key.encode())
    return "whsec_" + base64.urlsafe_b64encode(derived).rstrip(b"=").decode()
