"""The webhooks scenario's sender half: a local receiver, the HTTP ceiling, the sender timed.

The receiver is the standard library's ThreadingHTTPServer (HTTP/1.1 keep-alive, TCP_NODELAY,
a listen backlog of 128, a 200 at once) in a child process, so that it does not share the
benchmark's GIL; it counts the POSTs it answered (GET /count). Baselines: the HTTP ceiling,
the same bodies POSTed with plain urllib3 on as many threads as the sender's concurrency, no
database, no signing; and the outcomes alone, the sender's own recording (`concurrency`
outcomes in one statement), no HTTP. The sender: M due deliveries in the table, sent as the
worker sends them (`drain`: slots kept full, outcomes recorded as they come) until nothing is
due, built as the worker builds it (runtime/webhooks.Webhooks.sender with
PAYMENTS_DELIVERY_CONCURRENCY, and PAYMENTS_DELIVERY_PER_ENDPOINT the same: the one endpoint
may hold every slot, as the ceiling's threads do).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import urllib3

from payments.bench import harness
from payments.bench.timing import timed_parallel
from payments.projections.followers.webhook_deliveries import (
    Attempt,
    NewDelivery,
    insert_deliveries,
)
from payments.runtime.config import Settings
from payments.runtime.services import Services
from payments.runtime.webhook_sender import SIGNATURE_HEADER, USER_AGENT
from payments.runtime.webhooks import Webhooks

RECEIVER = """
import sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
posts, lock, delay_s = [0], threading.Lock(), float(sys.argv[2]) / 1000
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a merchant's server answers
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            posts[0] += 1
        time.sleep(delay_s)  # a merchant's server's own time, when asked for
        self._answer(b"ok")
    def do_GET(self):
        with lock:
            self._answer(str(posts[0]).encode())
    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, format, *args):
        pass
class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: 32 connections opened at once get resets
    # and 1 s SYN retries; a merchant's server (nginx: 511) takes them.
    request_queue_size = 128
server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
"""
# As long as the sender's (t=<10 digits>,v1=<64 hex>): the ceiling's requests are as large.
SIGNATURE_SHAPE = "t=1700000000,v1=" + "0" * 64


class Receiver:
    """The merchant's endpoint: a child process on a free port of 127.0.0.1."""

    def __init__(self, base: str, process: harness.ChildProcess) -> None:
        self.base, self.url, self.process = base, f"{base}/hooks", process

    def posts(self) -> int:
        """How many POSTs it has answered so far."""
        return int(httpx.get(f"{self.base}/count", timeout=10).text)


@contextlib.contextmanager
def receiving(ctx: harness.BenchContext, delay_ms: int) -> Iterator[Receiver]:
    """The receiver, answering each POST after `delay_ms`, until the block ends."""
    port = harness.free_port()
    process = harness.ChildProcess(
        "receiver",
        [sys.executable, "-c", RECEIVER, str(port), str(delay_ms)],
        harness.child_env(),
        ctx.work_dir / "receiver.log",
    )
    try:
        receiver = Receiver(f"http://127.0.0.1:{port}", process)
        process.wait_http(f"{receiver.base}/count")
        yield receiver
    finally:
        process.stop()


@dataclass(frozen=True)
class Run:
    """One timed run: how many were sent (and answered 2xx), in how long, at what CPU."""

    done: int
    seconds: float
    cpu_seconds: float  # this process's (user + system): the receiver and PostgreSQL not in it

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_each(self) -> float:
        return self.cpu_seconds * 1000 / self.done if self.done else 0.0

    def figures(self) -> dict[str, float]:
        return {"done": self.done, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds}


def ceiling(url: str, deliveries: list[NewDelivery], concurrency: int) -> Run:
    """The deliveries' bodies POSTed with plain urllib3 on `concurrency` threads (the
    sender's headers, a signature of the same length): the HTTP ceiling, no database."""
    pool = urllib3.PoolManager(maxsize=concurrency, retries=False, timeout=urllib3.Timeout(10))
    requests = [(d.body, _headers_of(d)) for d in deliveries]

    def post(index: int) -> None:
        body, headers = requests[index]
        answer = pool.request("POST", url, body=body, headers=headers, redirect=False)
        if answer.status != 200:
            raise RuntimeError(f"the receiver answered {answer.status}")

    cpu = time.process_time()
    try:
        seconds, latencies, _ = timed_parallel(concurrency, len(requests), post, deadline_s=600)
    finally:
        pool.clear()
    return Run(len(latencies), seconds, time.process_time() - cpu)


def _headers_of(delivery: NewDelivery) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: SIGNATURE_SHAPE,
        "Payments-Event-Id": delivery.event_id,
        "Payments-Event-Type": delivery.event_type,
        "Payments-Delivery-Id": delivery.delivery_id,
    }


def make_due(
    services: Services, made: list[NewDelivery], count: int, tag: str
) -> list[NewDelivery]:
    """The table emptied, then `count` deliveries pending and due (the feed's, again as
    often as needed, with fresh ids) in the feed's own statement, and the table vacuumed and
    analysed: each sender run starts alike. The deliveries made due."""
    url = services.database_url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE webhook_deliveries")
    fresh = [
        dataclasses.replace(d, delivery_id=f"{d.delivery_id}_{tag}_{index}")
        for index, d in zip(range(count), itertools.cycle(made), strict=False)
    ]
    with services.pool.connection() as conn, conn.transaction():
        insert_deliveries(conn, fresh)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE webhook_deliveries")
    return fresh


def send_until_idle(
    services: Services, env: dict[str, str], concurrency: int, deadline_s: float
) -> tuple[Run, dict[str, Any]]:
    """Sent until nothing is due, by a sender built as the worker builds it at this
    concurrency, the one endpoint allowed every slot (its other settings the deployment's
    defaults): the run, and the table's outcome (delivered, attempts)."""
    settings = Settings.from_env(
        {
            **env,
            "PAYMENTS_DELIVERY_CONCURRENCY": str(concurrency),
            "PAYMENTS_DELIVERY_PER_ENDPOINT": str(concurrency),
        }
    )
    sender = Webhooks(settings, services.application, services.pool).sender()
    cpu, started = time.process_time(), time.perf_counter()
    try:
        sender.drain(deadline_s)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    finally:
        sender.close()
    with services.pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'delivered'), count(*), "
            "coalesce(max(attempts), 0) FROM webhook_deliveries"
        ).fetchone()
        errors = conn.execute(
            "SELECT coalesce(last_error, status), count(*) FROM webhook_deliveries "
            "WHERE status <> 'delivered' GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    assert row is not None
    delivered = int(row[0])
    outcome: dict[str, Any] = {
        "delivered": delivered,
        "deliveries": int(row[1]),
        "max_attempts": int(row[2]),
        "not_delivered": {str(error): int(n) for error, n in errors},
    }
    return Run(delivered, seconds, cpu_seconds), outcome


def records_alone(services: Services, deliveries: list[NewDelivery], concurrency: int) -> Run:
    """The sender's own recording of these due deliveries' outcomes, `concurrency` in one
    statement (the most the sender records at once), no HTTP: what recording the outcomes
    costs alone."""
    table = services.webhooks.deliveries
    cpu, started = time.process_time(), time.perf_counter()
    for start in range(0, len(deliveries), concurrency):
        table.record(
            [
                Attempt(d.delivery_id, 200, None, None)
                for d in deliveries[start : start + concurrency]
            ]
        )
    seconds = time.perf_counter() - started
    return Run(len(deliveries), seconds, time.process_time() - cpu)


def measure_sender(
    ctx: harness.BenchContext,
    services: Services,
    env: dict[str, str],
    receiver: Receiver,
    made: list[NewDelivery],
    count: int,
    levels: list[int],
) -> list[dict[str, Any]]:
    """At each concurrency, `count` deliveries made due: the HTTP ceiling with their bodies,
    the sender, the outcomes recorded alone (the deliveries made due again), the ceiling
    again (the machine's noise shows as the ceiling's spread)."""
    runs = []
    for concurrency in levels:
        deliveries = make_due(services, made, count, f"c{concurrency}")
        before = ceiling(receiver.url, deliveries, concurrency)
        posts = receiver.posts()
        sent, outcome = send_until_idle(services, env, concurrency, deadline_s=600)
        outcome["receiver_posts"] = receiver.posts() - posts
        recorded = records_alone(
            services, make_due(services, made, count, f"r{concurrency}"), concurrency
        )
        after = ceiling(receiver.url, deliveries, concurrency)
        ctx.log(
            f"sender at {concurrency}: {sent.rate:,.0f} deliveries/s; ceiling "
            f"{before.rate:,.0f} / {after.rate:,.0f} POSTs/s before / after; outcomes recorded "
            f"alone {recorded.rate:,.0f}/s"
        )
        runs.append(
            {
                "concurrency": concurrency,
                "sender": sent.figures(),
                "ceiling_before": before.figures(),
                "ceiling_after": after.figures(),
                "records_alone": recorded.figures(),
                **outcome,
            }
        )
    return runs


def sender_table(runs: list[dict[str, Any]], count: int) -> harness.Table:
    """Per concurrency: the baselines, each with sender ÷ it, then the sender."""
    table = harness.Table(
        f"webhooks: the sender, {count:,} due deliveries to a local receiver "
        "(stdlib ThreadingHTTPServer in a child process)",
        [
            "run",
            "concurrency",
            "count",
            "seconds",
            "per second",
            "CPU ms each (bench process)",
            "sender ÷ this",
        ],
    )
    for run in runs:
        concurrency = run["concurrency"]
        sent, before, after, recorded = (
            Run(**run[key])
            for key in ("sender", "ceiling_before", "ceiling_after", "records_alone")
        )
        mean = Run(
            (before.done + after.done) // 2,
            (before.seconds + after.seconds) / 2,
            (before.cpu_seconds + after.cpu_seconds) / 2,
        )
        rows = (
            ("HTTP ceiling: plain urllib3 POSTs (mean of before, after)", mean),
            ("outcomes alone: recorded `concurrency` at a time, no HTTP", recorded),
            ("sender: slots kept full until idle", sent),
        )
        for label, measured in rows:
            table.add(
                label,
                concurrency,
                measured.done,
                round(measured.seconds, 3),
                round(measured.rate, 1),
                round(measured.cpu_ms_each, 3),
                harness.ratio(sent.rate, measured.rate),
            )
        table.add(
            "(spread) HTTP ceiling: before / after the sender",
            concurrency,
            mean.done,
            f"{before.seconds:.3g} / {after.seconds:.3g}",
            f"{before.rate:,.0f} / {after.rate:,.0f}",
            f"{before.cpu_ms_each:.3f} / {after.cpu_ms_each:.3f}",
            None,
        )
    return table


def sender_notes(runs: list[dict[str, Any]]) -> list[str]:
    """Per concurrency: the rate if each delivery took its POST's and its record's time
    alone one after the other, and the sender's share of it."""
    notes = []
    for run in runs:
        sent, recorded = Run(**run["sender"]), Run(**run["records_alone"])
        ceilings = [Run(**run[key]) for key in ("ceiling_before", "ceiling_after")]
        http_rate = sum(c.rate for c in ceilings) / len(ceilings)
        serial = 1 / (1 / http_rate + 1 / recorded.rate) if http_rate and recorded.rate else 0.0
        notes.append(
            f"at {run['concurrency']}: the POST and the record one after the other, each at "
            f"its rate alone, would make {serial:,.0f} deliveries/s; the sender made "
            f"{sent.rate:,.0f} ({harness.ratio(sent.rate, serial)} of it)"
        )
    return notes
