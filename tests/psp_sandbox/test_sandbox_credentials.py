from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from payments.psp.sandbox.__main__ import VISIBLE_SECRET_WARNING, parse_arguments
from payments.psp.sandbox.app import create_sandbox_app
from payments.psp.sandbox.config import SandboxConfig
from tests.psp_sandbox.conftest import SandboxStarter, table_counts
from tests.security.helpers import threaded_hooks

API_KEY = "sk_test_" + "k" * 32
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}


def _refusal(
    capsys: pytest.CaptureFixture[str], argv: list[str], environment: dict[str, str]
) -> str:
    with pytest.raises(SystemExit) as exited:
        parse_arguments(argv, environment)
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_an_api_key_is_required_as_a_bearer_token_once_configured(
    start_sandbox: SandboxStarter,
) -> None:
    sandbox = start_sandbox(api_key=API_KEY)
    before = table_counts(sandbox.db_path)
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as anonymous:
        missing = anonymous.post("/v1/tokens", json=CARD)
        assert missing.status_code == 401
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert missing.json()["title"] == "API key missing"
        for wrong in (f"Bearer {API_KEY}x", f"Basic {API_KEY}", "Bearer", f"bearer {API_KEY[:-1]}"):
            answer = anonymous.get("/v1/settlements", headers={"Authorization": wrong})
            assert (answer.status_code, answer.json()["title"]) == (401, "API key invalid")
        assert anonymous.get("/admin/faults").status_code == 401
        assert anonymous.post("/admin/reset").status_code == 401
        assert anonymous.get("/v1/charges/ch_x").status_code == 401  # before any look-up
        charge = {"amount": 100, "currency": "USD", "token": "tok_" + "a" * 24, "reference": "r"}
        wrong = {"Authorization": "Bearer nope", "Idempotency-Key": "k"}
        assert anonymous.post("/v1/charges", json=charge, headers=wrong).status_code == 401
        assert table_counts(sandbox.db_path) == before  # refused calls store nothing
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/schema/openapi.json").status_code == 200
        assert anonymous.get("/v1/hosted/card").status_code == 200
        hosted = {"number": "4242424242424242", "expiry": "12/99", "cvc": "123"}
        assert anonymous.post("/v1/hosted/card", data=hosted).status_code == 201
        authorised = {"Authorization": f"Bearer {API_KEY}"}
        assert anonymous.post("/v1/tokens", json=CARD, headers=authorised).status_code == 201
        assert anonymous.get("/admin/faults", headers=authorised).status_code == 200


def test_without_an_api_key_every_route_is_open(client: httpx.Client) -> None:
    assert client.post("/v1/tokens", json=CARD).status_code == 201
    assert client.get("/admin/faults").status_code == 200


def test_the_api_key_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(f"  {API_KEY}\n")
    from_file, _ = parse_arguments(["--db", "x", "--api-key-file", str(key_file)], {})
    assert from_file.api_key == API_KEY
    from_environment, _ = parse_arguments(["--db", "x"], {"PSP_SANDBOX_API_KEY": API_KEY})
    assert from_environment.api_key == API_KEY
    assert parse_arguments(["--db", "x"], {})[0].api_key is None
    assert API_KEY not in repr(from_file)


def test_the_webhook_secret_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("whsec_from_file\n")
    url = ["--db", "x", "--webhook-url", "http://127.0.0.1:9/hook"]
    from_file, _ = parse_arguments([*url, "--webhook-secret-file", str(secret_file)], {})
    assert from_file.webhook_secret == "whsec_from_file"
    environment = {"PSP_SANDBOX_WEBHOOK_SECRET": "whsec_from_env"}
    assert parse_arguments(url, environment)[0].webhook_secret == "whsec_from_env"
    both = parse_arguments([*url, "--webhook-secret-file", str(secret_file)], environment)[0]
    assert both.webhook_secret == "whsec_from_file"


def test_a_secret_on_the_command_line_works_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--db", "x", "--webhook-url", "http://h/", "--webhook-secret", "whsec_visible"]
    config, _ = parse_arguments(argv, {})
    assert config.webhook_secret == "whsec_visible"
    assert VISIBLE_SECRET_WARNING in capsys.readouterr().err
    assert "ps" in VISIBLE_SECRET_WARNING


@pytest.mark.parametrize(
    ("argv", "environment", "message"),
    [
        (["--webhook-url", "http://h/"], {}, "a webhook URL needs a webhook secret"),
        (["--webhook-url", "http://h/"], {"PSP_SANDBOX_WEBHOOK_SECRET": " "}, "is empty"),
        (["--api-key-file", "/nonexistent/key"], {}, "cannot read the API key file"),
        (["--webhook-secret", "a", "--webhook-secret-file", "f"], {}, "not both"),
    ],
)
def test_a_missing_empty_or_doubled_secret_refuses_to_start(
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    environment: dict[str, str],
    message: str,
) -> None:
    assert message in _refusal(capsys, ["--db", "x", *argv], environment)


def test_an_empty_secret_file_refuses_to_start(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "empty").write_text("\n")
    argv = ["--db", "x", "--api-key-file", str(tmp_path / "empty")]
    assert "is empty" in _refusal(capsys, argv, {})


def test_the_process_refuses_a_webhook_url_without_a_secret(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PSP_SANDBOX_")}
    command = [sys.executable, "-m", "payments.psp.sandbox", "--db", str(tmp_path / "db")]
    finished = subprocess.run(
        [*command, "--webhook-url", "http://127.0.0.1:9/hook"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 2
    assert "a webhook URL needs a webhook secret" in finished.stderr
    assert "there is no default" in finished.stderr
    assert not (tmp_path / "db").exists()


def test_the_key_check_runs_on_the_event_loop(tmp_path: Path) -> None:
    """A synchronous guard would cost a worker-thread hand-off on every call (19 % of the
    sandbox's GIL samples under bench applied, docs/performance.md)."""
    app = create_sandbox_app(SandboxConfig(db_path=tmp_path / "psp.sqlite", api_key="sk_t"))
    assert not threaded_hooks(app)
