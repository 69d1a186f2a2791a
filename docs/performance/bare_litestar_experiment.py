"""The ceiling of API ÷ app with the mandated HTTP stack (issue #19), an experiment.

A bare Litestar application, served by uvicorn exactly as `payments api` serves ours
(uvloop, httptools, no access log, a sync handler on a thread pool), whose only route is
POST /payments: the same msgspec body type, the same command, the same
`application.place_checkout` as the bench's (a) path, and the answer encoded by msgspec.
No authentication, idempotency, card guard, rate limit, logging, metrics, security headers
or risk: only what no HTTP API can do without. Compared in one run with the (a) path (the
application on threads, no HTTP) and with the real API (`payments api`, one process).

    python docs/performance/bare_litestar_experiment.py SERVER_URL [levels] [count]

SERVER_URL: a PostgreSQL server URL whose user may create databases (each mode gets a
fresh one). Prints checkouts/s per mode and client count, and each ratio to (a).
MODES (environment, default "bare,api,app") picks the modes; with
`docs/performance/ablation-experiment.patch` applied to a checkout on PYTHONPATH, a mode
`api:logs+guard` runs `payments api` with those parts switched off (EXP_DROP: logs,
headers, prom, control, allow, guard, claim; parts of the request log alone: logcall,
logheader, logctx, logpass, rid, logq), as in the eighth and ninth sessions' ablations
(the ninth's through `paired_ab_experiment.py`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import psycopg
import uvicorn
from litestar import Litestar, Response, post

from payments.api.routes.payments import to_command
from payments.api.schemas import CheckoutRequest
from payments.bench.harness import free_port
from payments.bench.timing import timed_parallel
from payments.bench.workload import place_command
from payments.runtime.config import Settings
from payments.runtime.serve import set_asyncio_executor
from payments.runtime.services import Services, build_services

PYTHON = sys.executable


def services_on(database_url: str) -> Services:
    return build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": database_url}), database_url)


def serve_bare(database_url: str, port: int) -> None:
    services = build_services(
        Settings.from_env({"PAYMENTS_DATABASE_URL": database_url}), database_url
    )
    currency = services.settings.currency
    place = services.application.place_checkout

    @post("/payments", status_code=201, sync_to_thread=True)
    def create(data: CheckoutRequest) -> Response[bytes]:
        placement = place(to_command(data, currency))
        body = msgspec.json.encode({"checkout_id": placement.checkout.checkout_id})
        return Response(body, status_code=201, media_type="application/json")

    set_asyncio_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="api"))
    app = Litestar([create], openapi_config=None)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        loop="auto",
        http="auto",
    )


def fresh_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    import urllib3

    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode}")
        try:
            urllib3.request("GET", f"http://127.0.0.1:{port}/health", retries=False, timeout=1)
            return
        except urllib3.exceptions.HTTPError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def loadgen(port: int, key: str, prefix: str, clients: int, count: int) -> float:
    spec = {
        "url": f"http://127.0.0.1:{port}",
        "key": key,
        "prefix": prefix,
        "start": 0,
        "mode": "closed",
        "clients": clients,
        "count": count,
    }
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [PYTHON, "-m", "payments.bench.loadgen", json.dumps(spec), out.name], check=True
        )
        result = json.loads(Path(out.name).read_text())
    ok = result["statuses"].get("201", 0)
    if ok != count:
        raise SystemExit(f"{prefix}: {result['statuses']}")
    return count / result["elapsed_s"]


def http_mode(kind: str, server_url: str, levels: list[int], count: int) -> dict[int, float]:
    database_url = fresh_database(server_url, f"bare_{kind}")
    port = free_port()
    env = {**os.environ, "PAYMENTS_DATABASE_URL": database_url}
    key = "none"
    if kind == "bare":
        cmd = [PYTHON, __file__, "--serve", database_url, str(port)]
    else:
        env.update(
            {
                "PAYMENTS_PORT": str(port),
                "PAYMENTS_API_PROCESSES": "1",
                "PAYMENTS_RATE_LIMIT_PER_KEY": "1000000/second",
            }
        )
        key = subprocess.run(
            [
                PYTHON,
                "-m",
                "payments.cli.main",
                "keys",
                "create",
                "--role",
                "merchant",
                "--name",
                "exp",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        cmd = [PYTHON, "-m", "payments.cli.main", "api"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_up(port, proc)
        loadgen(port, key, f"{kind}warm", 4, 200)
        return {n: loadgen(port, key, f"{kind}{n}x", n, count) for n in levels}
    finally:
        proc.terminate()
        proc.wait()


def app_mode(server_url: str, levels: list[int], count: int) -> dict[int, float]:
    database_url = fresh_database(server_url, "bare_app")
    services = build_services(
        Settings.from_env({"PAYMENTS_DATABASE_URL": database_url}), database_url
    )
    try:
        rates = {}
        for n in [4, *levels]:
            commands = [place_command(f"app{n}x{time.time_ns()}", i) for i in range(count)]
            elapsed, _, errors = timed_parallel(
                n,
                count,
                lambda i, batch=commands: services.application.place_checkout(batch[i]),
                deadline_s=600,
            )
            assert not errors, errors
            rates[n] = count / elapsed
        return {n: rates[n] for n in levels}
    finally:
        services.close()


def main() -> None:
    if sys.argv[1] == "--serve":
        serve_bare(sys.argv[2], int(sys.argv[3]))
        return
    server_url = sys.argv[1]
    levels = [int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "1,16").split(",")]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    modes = os.environ.get("MODES", "bare,api,app").split(",")
    results = {}
    if "bare" in modes:
        results["bare Litestar"] = http_mode("bare", server_url, levels, count)
    for variant in [m for m in modes if m.startswith("api")]:
        os.environ["EXP_DROP"] = variant.partition(":")[2].replace("+", ",")
        results[variant] = http_mode("api", server_url, levels, count)
    results["(a) app"] = app_mode(server_url, levels, count)
    app = results["(a) app"]
    for name, rates in results.items():
        print(name, "  ".join(f"{n}: {r:.1f}/s (÷ (a) {r / app[n]:.2f})" for n, r in rates.items()))


if __name__ == "__main__":
    main()
