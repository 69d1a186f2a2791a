"""The sandbox PSP and `payments api` as child processes, started as every scenario that needs
them starts them: one place for their ports, files and environment, so that the scenarios
differ only where they mean to (the sandbox's delays, the executor's settings, how many API
processes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from payments.bench.harness import (
    PAYMENTS,
    ChildProcess,
    child_env,
    create_key,
    deployment_env,
    free_port,
    sandbox_command,
)


def role_process(
    work_dir: Path, name: str, args: Sequence[str], env: Mapping[str, str]
) -> ChildProcess:
    """`payments ARGS` (a role: worker, projections) with the deployment's PAYMENTS_* `env`,
    its log in work_dir named after it."""
    log_path = work_dir / f"{name.replace(' ', '-')}.log"
    return ChildProcess(name, [PAYMENTS, *args], child_env(**env), log_path)


class PspSandbox(ChildProcess):
    """The sandbox PSP on a free port, its state in work_dir/psp-sandbox.sqlite3 (the day reads
    its charges there), with `options` (where its webhooks go, shorter delays)."""

    def __init__(self, work_dir: Path, *options: str, webhook_secret: str | None = None):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.db_path = work_dir / "psp-sandbox.sqlite3"
        secret = {} if webhook_secret is None else {"PSP_SANDBOX_WEBHOOK_SECRET": webhook_secret}
        command = sandbox_command(self.db_path, port, *options)
        super().__init__("psp sandbox", command, child_env(**secret), work_dir / "psp-sandbox.log")

    def wait_ready(self) -> None:
        self.wait_http(f"{self.url}/health")


@dataclass(frozen=True)
class Deployment:
    """The sandbox PSP, its webhooks sent to `payments api`, and the API, both answering.
    `env` is the PAYMENTS_* of the deployment's processes, for the roles a scenario adds."""

    sandbox: PspSandbox
    api: ChildProcess
    api_url: str
    env: dict[str, str]

    @property
    def psp_url(self) -> str:
        return self.sandbox.url

    def merchant_key(self) -> str:
        return create_key(child_env(**self.env), "merchant")

    def stop(self) -> None:
        self.api.stop()
        self.sandbox.stop()


def start_deployment(
    work_dir: Path,
    database_url: str,
    webhook_secret: str,
    *,
    api_processes: int,
    settings: Mapping[str, str] | None = None,
    sandbox_options: tuple[str, ...] = (),
) -> Deployment:
    """Start the sandbox and `payments api` (PAYMENTS_API_PROCESSES `api_processes`, `settings`
    beside deployment_env's) and wait until both answer; stopped again if either does not."""
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    webhooks = ("--webhook-url", f"{api_url}/webhooks/psp")
    sandbox = PspSandbox(work_dir, *webhooks, *sandbox_options, webhook_secret=webhook_secret)
    data_dir = work_dir / "api-data"
    env = {
        **deployment_env(database_url, sandbox.url, api_port, webhook_secret, data_dir),
        **(settings or {}),
    }
    api = ChildProcess(
        "payments api",
        [PAYMENTS, "api"],
        child_env(**env, PAYMENTS_API_PROCESSES=str(api_processes)),
        work_dir / "api.log",
    )
    deployment = Deployment(sandbox, api, api_url, env)
    try:
        sandbox.wait_ready()
        api.wait_http(f"{api_url}/health")
    except BaseException:
        deployment.stop()
        raise
    return deployment
