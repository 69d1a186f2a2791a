"""Sends webhook deliveries to merchants' endpoints, signed, at least once (ADR 0027).

A loop in the worker: claim due deliveries with a lease, POST each body with
`Payments-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` (the PSP's scheme,
psp/signing.py; one v1 entry per secret while a rotation overlaps), and record the answer:
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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

log = logging.getLogger("payments.webhooks")

SIGNATURE_HEADER = "Payments-Signature"
USER_AGENT = "payments-webhooks/1"
MAX_ERROR = 300  # characters of a failure kept on the delivery


class NotPublic(Exception):
    """The endpoint's host resolves to an address that is not public (production mode)."""


@dataclass(frozen=True, slots=True)
class SenderConfig:
    policy: DeliveryPolicy
    timeout_s: float = 10.0
    concurrency: int = 8  # deliveries claimed and sent at once: each claim is sent at once,
    # so a lease of more than twice the timeout outlasts its sending (runtime/config.py)
    lease: timedelta = timedelta(minutes=2)
    poll_interval_s: float = 0.2
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
        self._http = urllib3.PoolManager(maxsize=config.concurrency, retries=False, timeout=timeout)
        self._calls = ThreadPoolExecutor(config.concurrency, thread_name_prefix="webhook")
        self._stop = threading.Event()

    def run_forever(self) -> None:
        log.info("webhook sender started")
        while not self._stop.is_set():
            try:
                sent = self.send_once()
            except Exception:
                log.exception("webhook sender iteration failed; retrying")
                self._stop.wait(1.0)
                continue
            if not sent:
                self._stop.wait(self.config.poll_interval_s)
        log.info("webhook sender stopped")

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._calls.shutdown(wait=True)
        self._http.clear()

    def send_once(self) -> int:
        """Claim the due deliveries, send them, and record their outcomes together; how many
        were attempted."""
        due = self.deliveries.claim_due(self.config.lease, self.config.concurrency)
        self.deliveries.record(list(self._calls.map(self._attempt, due)))
        return len(due)

    def _attempt(self, delivery: DueDelivery) -> Attempt:
        try:
            status = self._post(delivery)
        except NotPublic as refusal:
            return self._failed(delivery, None, str(refusal))
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
        if self.config.public_only:
            pool, path = self._public_pool(delivery.url)
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
