"""No public secret, production refuses the sandbox and plain HTTP, HTTPS with our own cert."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import stat
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from payments.runtime.config import ConfigError, Settings
from payments.runtime.secrets import (
    SANDBOX_WEBHOOK_PREFIX,
    require_https,
    sandbox_secret_files,
    with_secrets,
)
from tests.e2e.processes import Process, clean_env, free_port


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"PAYMENTS_DATA_DIR": str(tmp_path), **env})


def test_the_bundled_sandbox_gets_secrets_made_for_this_installation(tmp_path: Path) -> None:
    first = with_secrets(settings(tmp_path))
    again = with_secrets(settings(tmp_path))
    other = with_secrets(settings(tmp_path / "other"))
    assert first.webhook_secret is not None
    assert first.webhook_secret.startswith(SANDBOX_WEBHOOK_PREFIX)
    assert len(first.webhook_secret) > 40
    assert first.audit_key
    assert (again.webhook_secret, again.audit_key) == (first.webhook_secret, first.audit_key)
    assert other.webhook_secret != first.webhook_secret
    directory = tmp_path / "secrets"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    webhook_file, api_key_file = sandbox_secret_files(first)
    assert webhook_file.read_text().strip() == first.webhook_secret
    assert api_key_file is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PAYMENTS_WEBHOOK_SECRET": "whsec_sandbox_development_only"}, "published"),
        ({"PAYMENTS_PSP_URL": "https://psp.example"}, "PAYMENTS_WEBHOOK_SECRET is required"),
        ({"PAYMENTS_MODE": "production"}, "needs a real PSP"),
        (
            {"PAYMENTS_MODE": "production", "PAYMENTS_PSP_URL": "https://psp.example",
             "PAYMENTS_WEBHOOK_SECRET": SANDBOX_WEBHOOK_PREFIX + "x" * 40,
             "PAYMENTS_AUDIT_KEY": "k" * 32},
            "sandbox-generated secret is refused",
        ),
        (
            {"PAYMENTS_MODE": "production", "PAYMENTS_PSP_URL": "https://psp.example",
             "PAYMENTS_WEBHOOK_SECRET": "whsec_live_from_the_psp"},
            "PAYMENTS_AUDIT_KEY",
        ),
    ],
)  # fmt: skip
def test_unsafe_secret_settings_are_refused_with_a_clear_message(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        with_secrets(settings(tmp_path, **env))
    assert not (tmp_path / "secrets" / "webhook_secret").exists() or "MODE" not in env


def test_production_serves_https_only_or_behind_a_declared_proxy(tmp_path: Path) -> None:
    live = {"PAYMENTS_MODE": "production", "PAYMENTS_PSP_URL": "https://psp.example",
            "PAYMENTS_WEBHOOK_SECRET": "whsec_live_from_the_psp", "PAYMENTS_AUDIT_KEY": "k" * 32}  # fmt: skip
    ready = with_secrets(settings(tmp_path, **live))
    with pytest.raises(ConfigError, match="HTTPS only"):
        require_https(ready, tls=False)
    require_https(ready, tls=True)
    require_https(with_secrets(settings(tmp_path, **live, PAYMENTS_TRUST_PROXY="1")), tls=False)
    require_https(with_secrets(settings(tmp_path)), tls=False)  # sandbox mode: HTTP is fine


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


def test_serve_speaks_https_with_its_certificate_and_keeps_secrets_off_command_lines(
    tmp_path: Path, database_url: str
) -> None:
    certfile, keyfile = self_signed(tmp_path)
    port, data_dir = free_port(), tmp_path / "data"
    env = clean_env(
        PAYMENTS_DATABASE_URL=database_url,
        PAYMENTS_DATA_DIR=str(data_dir),
        PAYMENTS_PORT=str(port),
        PAYMENTS_PSP_SANDBOX_PORT=str(free_port()),
    )
    server = Process(
        ["serve", "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)],
        env,
        tmp_path / "serve.log",
    )
    try:
        url = f"https://127.0.0.1:{port}/health"
        trust = ssl.create_default_context(cafile=str(certfile))
        server.wait_http_with(url, verify=trust)
        answer = httpx.get(url, verify=trust)
        assert answer.status_code == 200
        assert answer.json()["mode"] == "sandbox"
        assert answer.headers["strict-transport-security"].startswith("max-age=")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        secret = (data_dir / "secrets" / "webhook_secret").read_text().strip()
        command_lines = [
            Path(f"/proc/{pid}/cmdline").read_bytes()
            for pid in os.listdir("/proc")
            if pid.isdigit() and Path(f"/proc/{pid}/cmdline").exists()
        ]
        assert not any(secret.encode() in line for line in command_lines)
    finally:
        server.interrupt()


def test_production_mode_refuses_to_start_the_sandbox(tmp_path: Path, database_url: str) -> None:
    env = clean_env(
        PAYMENTS_DATABASE_URL=database_url,
        PAYMENTS_DATA_DIR=str(tmp_path / "data"),
        PAYMENTS_MODE="production",
    )
    server = Process(["serve"], env, tmp_path / "serve.log")
    assert server.popen.wait(60) != 0
    assert "PAYMENTS_MODE=production needs a real PSP" in server.logs()
