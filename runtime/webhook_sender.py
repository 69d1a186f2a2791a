"""Sends webhook deliveries to merchants' endpoints, signed, at least once (ADR 0027).

`concurrency` threads POST (runtime/fair_pool.py); a loop in the worker keeps them fed: it
claims due deliveries with a lease until twice as many are held as there are threads (those
beyond wait for a thread, so a thread that ends a POST starts the next at once), and whenever
POSTs end it records the outcomes that have come in one statement and claims again. A slow
endpoint holds only its own threads, never a round of others': no endpoint has more than
`per_endpoint` POSTs in flight, nor twice as many deliveries held; the others' deliveries are
claimed past what it has beyond that, and sent past what it holds. Each POST carries
`Payments-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` (the PSP's scheme,
psp/signing.py; one v1 entry per secret while a rotation overlaps); as for the answer:
any 2xx delivers; anything else, a timeout or a refused connection is tried again after the
delivery policy's backoff (domain/webhook_endpoint.DeliveryPolicy), until its attempts run
out (then `failed`, which an operator or the merchant may redeliver). No redirect is
followed: a 3xx is a failed attempt naming the status.

In production mode the endpoint's host is resolved here and every address it has must be
public (no loopback, private, link-local or reserved address): the connection then goes to
the address checked, with the host name kept for TLS, so a name cannot point elsewhere between
the check and the connection.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError

from payments.domain.webhook_endpoint import DeliveryPolicy, signing_generations
from payments.projections.followers.webhook_deliveries import (
    Attempt,
    DueDelivery,
    WebhookDeliveries,
)
from payments.psp.signing import sign_with_each
from payments.runtime.fair_pool import FairPool
from payments.runtime.http_deadline import DEADLINES, DeadlineExceeded, pool_manager

log = logging.getLogger("payments.webhooks")

SIGNATURE_HEADER = "Payments-Signature"
USER_AGENT = "payments-webhooks/1"
MAX_ERROR = 300  # characters of a failure kept on the delivery
# The whole attempt's deadline runs this much past the timeout, so that a silent receiver
# meets urllib3's read timeout first ("no answer"), and only one answering in dribbles the
# deadline ("no complete answer"); at the same instant either could fire.
DEADLINE_GRACE_S = 0.5


class NotPublic(Exception):
    """The endpoint's host resolves to an address that is not public (production mode)."""


@dataclass(frozen=True, slots=True)
class SenderConfig:
    policy: DeliveryPolicy
    timeout_s: float = 10.0
    concurrency: int = 32  # threads POSTing at once; twice as many deliveries held
    per_endpoint: int = 16  # POSTs to one endpoint at once, at most
    lease: timedelta = timedelta(minutes=2)
    poll_interval_s: float = 0.2
    linger_s: float = 0.005  # once a POST has ended, how long to wait for more to record
    public_only: bool = False  # production mode: refuse hosts with non-public addresses


class WebhookSender:
    def __init__(
        self,
        deliveries: WebhookDeliveries,
        secret_of: Callable[[str, int], str],
        config: SenderConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        pin: Callable[[str, int], str] | None = None,
    ) -> None:
        """`pin`: the address to connect to for a host and port in production mode (default:
        `public_address`, which refuses any that is not public)."""
        self.pin = pin or public_address
        self.deliveries = deliveries
        self.secret_of = secret_of
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        timeout = urllib3.Timeout(connect=min(config.timeout_s, 5.0), read=config.timeout_s)
        # retries=False: no retry and no redirect followed (a 3xx is answered as it is)
        self._http = pool_manager(maxsize=config.concurrency, retries=False, timeout=timeout)
        self._pool: FairPool[DueDelivery, Attempt] = FairPool(
            self._attempt,
            lambda delivery: delivery.endpoint_id,
            config.concurrency,
            config.per_endpoint,
            "webhook",
        )
        self._stop = threading.Event()

    def run_forever(self) -> None:
        log.info("webhook sender started")
        while not self._stop.is_set():
            try:
                self.step(self.config.poll_interval_s)
            except Exception:
                log.exception("webhook sender iteration failed; retrying")
                self._stop.wait(1.0)
        self.finish()
        log.info("webhook sender stopped")

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """After `run_forever` has returned (or the last `step`'s deliveries have been
        finished): any still held are sent, unrecorded, and sent again when their leases run
        out."""
        self._pool.close()
        self._http.clear()

    def step(self, wait_s: float) -> int:
        """Claim due deliveries for the room there is and hand them to the threads; then wait
        up to `wait_s` for a POST to end, and record every outcome that has come. How many
        were claimed or recorded (0: nothing due, nothing ended)."""
        claimed = self._fill(2 * self.config.concurrency)
        held = sum(self._pool.held().values())
        if not held:
            if not claimed:
                self._stop.wait(wait_s)
            return claimed
        enough = min(max(1, self.config.concurrency // 2), held)
        return claimed + self._record(self._pool.collect(wait_s, enough, self.config.linger_s))

    def send_once(self) -> int:
        """Claim as many due deliveries as there are threads, send them, and record every
        outcome once all have ended; how many were claimed."""
        claimed = self._fill(self.config.concurrency)
        self.finish()
        return claimed

    def drain(self, deadline_s: float = 60.0) -> None:
        """Send until nothing is due and nothing is held (or `deadline_s` has passed)."""
        stop_at = time.monotonic() + deadline_s
        while time.monotonic() < stop_at and (self.step(0.05) or self._pool.held()):
            pass
        self.finish()

    def finish(self) -> None:
        """Send what is held and record the outcomes."""
        self._record(self._pool.collect_all())

    def _fill(self, room: int) -> int:
        """Claim due deliveries until `room` are held, each endpoint within twice its share
        (its share POSTing, as many waiting for a thread), and hand them to the threads; how
        many."""
        claimed, most = 0, 2 * self.config.per_endpoint
        while (free := room - sum((held := self._pool.held()).values())) > 0:
            due = self.deliveries.claim_due(self.config.lease, free, busy=held, per_endpoint=most)
            self._pool.submit(due)
            claimed += len(due)
            held.update(d.endpoint_id for d in due)
            if len(due) < free and all(held[d.endpoint_id] < most for d in due):
                break  # nothing more is due (an endpoint that has filled its share may hide
                # others' deliveries behind its own: the next claim passes it by)
        return claimed

    def _record(self, ended: list[tuple[DueDelivery, Attempt]]) -> int:
        """Record these outcomes in one statement. (If that fails, their leases run out and
        they are sent again: at least once.)"""
        self.deliveries.record([attempt for _, attempt in ended])
        return len(ended)

    def _attempt(self, delivery: DueDelivery) -> Attempt:
        try:
            status = self._post(delivery)
        except NotPublic as refusal:
            return self._failed(delivery, None, str(refusal))
        except DeadlineExceeded:
            return self._failed(delivery, None, "no complete answer within the timeout")
        except (HTTPError, OSError) as error:
            return self._failed(delivery, None, _describe(error))
        except Exception as error:  # counted as an attempt, so that it cannot loop forever
            log.exception("webhook delivery raised", extra={"delivery_id": delivery.delivery_id})
            return self._failed(delivery, None, f"{type(error).__name__}: {error}")
        if 200 <= status < 300:
            return Attempt(delivery.delivery_id, status, None, None)
        return self._failed(delivery, status, f"the endpoint answered {status}")

    def _failed(self, delivery: DueDelivery, status: int | None, error: str) -> Attempt:
        retry_in = self.config.policy.next_attempt_in(delivery.attempts + 1, self.rng)
        log.info(
            "webhook delivery failed",
            extra={
                "delivery_id": delivery.delivery_id,
                "endpoint_id": delivery.endpoint_id,
                "attempt": delivery.attempts + 1,
                "error": error[:MAX_ERROR],
                "final": retry_in is None,
            },
        )
        return Attempt(delivery.delivery_id, status, error[:MAX_ERROR], retry_in)

    def _post(self, delivery: DueDelivery) -> int:
        now = self.clock()
        generations = signing_generations(delivery.generation, delivery.previous_until, now)
        secrets = [self.secret_of(delivery.endpoint_id, g) for g in generations]
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign_with_each(secrets, delivery.body, int(now.timestamp())),
            "Payments-Event-Id": delivery.event_id,
            "Payments-Event-Type": delivery.event_type,
            "Payments-Delivery-Id": delivery.delivery_id,
        }
        # resolved and checked first (production mode), then the whole exchange within the
        # timeout: urllib3's read timeout bounds each read, not the answer
        public = self._public_pool(delivery.url) if self.config.public_only else None
        with DEADLINES.within(self.config.timeout_s + DEADLINE_GRACE_S):
            if public is not None:
                pool, path = public
                headers["Host"] = urlsplit(delivery.url).netloc
                response = pool.urlopen(
                    "POST",
                    path,
                    body=delivery.body,
                    headers=headers,
                    preload_content=False,
                    redirect=False,
                )
            else:
                response = self._http.request(
                    "POST",
                    delivery.url,
                    body=delivery.body,
                    headers=headers,
                    preload_content=False,
                    redirect=False,
                )
            try:  # a receiver's answer is not ours to keep: read a little, keep none of it
                response.read(64 * 1024, decode_content=False)
                if response.read(1, decode_content=False):
                    response.close()  # it sends more: this connection is not reused
            finally:
                response.release_conn()
        return response.status

    def _public_pool(self, url: str) -> tuple[urllib3.HTTPSConnectionPool, str]:
        """A connection pool to a public address of the URL's host, TLS checked against the
        host's name; the path and query to request."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 443
        if parts.scheme != "https":
            raise NotPublic("plain http is refused in production mode")
        address = self.pin(host, port)
        pool = self._http.connection_from_host(
            address,
            port,
            "https",
            pool_kwargs={"server_hostname": host, "assert_hostname": host},
        )
        assert isinstance(pool, urllib3.HTTPSConnectionPool)
        return pool, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def public_address(host: str, port: int) -> str:
    """The first address of `host`, if every address it resolves to is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise NotPublic(f"cannot resolve {host}: {error.strerror}") from None
    addresses = [str(info[4][0]) for info in infos]
    for text in addresses:
        if not ipaddress.ip_address(text.split("%", 1)[0]).is_global:
            raise NotPublic(f"{host} resolves to {text}, which is not a public address")
    return addresses[0]


def _describe(error: Exception) -> str:
    """A transport failure in a few words, without urllib3's object reprs."""
    reason = getattr(error, "reason", None) or error
    text = str(reason)
    if "timed out" in text.lower() or "timeout" in type(reason).__name__.lower():
        return "no answer within the timeout"
    if "refused" in text.lower():
        return "connection refused"
    return f"{type(reason).__name__}: {text}"
