"""Webhook outbox and delivery.

An event is stored with its delivery row(s) in the same transaction as the change it announces;
a background task POSTs due deliveries, signed with `PSP-Signature`, and retries each with
exponential backoff (base * 2^(attempts-1), capped) until the receiver answers 2xx. The outbox
is in SQLite, so undelivered events survive a restart. Webhook faults act when an event is
enqueued: drop (recorded, never sent), duplicate (two deliveries of the same event id), delay,
and reorder (held, then released newest first).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

import msgspec
import urllib3

from payments.psp.sandbox.admin_models import DeliveryView, EventView
from payments.psp.sandbox.config import SandboxConfig
from payments.psp.sandbox.faults import FaultBook, event_endpoint
from payments.psp.sandbox.identifiers import new_id
from payments.psp.sandbox.store import SandboxStore
from payments.psp.signing import SIGNATURE_HEADER, sign_payload

logger = logging.getLogger("psp.sandbox.webhooks")

PENDING, HELD, DELIVERED, DROPPED = "pending", "held", "delivered", "dropped"


class WebhookEvent(msgspec.Struct, frozen=True):
    id: str
    type: str
    created: int
    data: dict[str, Any]


def enqueue_event(
    connection: sqlite3.Connection, faults: FaultBook, event_type: str, data_object: Any
) -> str:
    """Store an event about `data_object` and schedule its delivery; returns the event id."""
    now = time.time()
    event = WebhookEvent(
        id=new_id("evt"), type=event_type, created=int(now), data={"object": data_object}
    )
    connection.execute(
        "INSERT INTO events (id, type, created, payload) VALUES (?, ?, ?, ?)",
        (event.id, event.type, event.created, msgspec.json.encode(event)),
    )
    status, due_at, copies = PENDING, now, 1
    about = (event_endpoint(event_type), getattr(data_object, "id", None))  # views hold `id`
    if faults.take("drop_webhook", *about) is not None:
        status = DROPPED
    elif faults.take("reorder_webhooks", *about) is not None:
        status = HELD
    delay = faults.take("delay_webhook", *about)
    if delay is not None:
        due_at = now + (delay.latency_ms if delay.latency_ms is not None else 5000) / 1000
    if status != DROPPED and faults.take("duplicate_webhook", *about) is not None:
        copies = 2
    for _ in range(copies):
        connection.execute(
            "INSERT INTO deliveries (event_id, status, next_attempt_at) VALUES (?, ?, ?)",
            (event.id, status, due_at),
        )
    return event.id


def release_held_deliveries(store: SandboxStore, faults: FaultBook) -> None:
    """Once no reorder rule is active, send held events newest first."""
    if faults.has_active("reorder_webhooks"):
        return
    with store.transaction() as connection:
        held = connection.execute(
            "SELECT id FROM deliveries WHERE status = ? ORDER BY id DESC", (HELD,)
        ).fetchall()
        now = time.time()
        for position, row in enumerate(held):
            connection.execute(
                "UPDATE deliveries SET status = ?, next_attempt_at = ? WHERE id = ?",
                (PENDING, now + position * 0.001, row["id"]),
            )


def retry_delay_s(config: SandboxConfig, attempts: int) -> float:
    """Backoff after `attempts` failed tries: base, 2*base, 4*base, ... capped."""
    exponent = min(max(attempts - 1, 0), 30)
    return float(min(config.webhook_retry_base_s * 2**exponent, config.webhook_retry_cap_s))


class WebhookPoster:
    """Sends signed deliveries with urllib3 (a pooled keep-alive connection, no retries or
    redirects of its own: the outbox schedules the retries). Rounds run in a thread of the
    worker's; `stop()` lets the POST in flight finish and starts no other."""

    def __init__(self, timeout_s: float) -> None:
        self._pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(timeout_s))
        self._stopped = threading.Event()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()
        self._pool.clear()

    def post(self, url: str, secret: str, body: bytes) -> tuple[int | None, str | None]:
        """(the answer's status, None), or (None, why there was no answer)."""
        signature = sign_payload(secret, body, int(time.time()))
        try:
            response = self._pool.request(
                "POST",
                url,
                body=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exception:
            return None, f"{type(exception).__name__}: {exception}"
        return response.status, None


def deliver_due_webhooks(store: SandboxStore, config: SandboxConfig, poster: WebhookPoster) -> int:
    """POST every due delivery once, one at a time in due order, each result stored as it
    comes; returns how many were acknowledged. A stop ends the round after the POST in flight."""
    if config.webhook_url is None or config.webhook_secret is None:
        return 0  # SandboxConfig refuses a URL without a secret; this also tells mypy
    due = store.fetch_all(
        "SELECT d.id, d.attempts, e.payload FROM deliveries d JOIN events e ON e.id = d.event_id"
        " WHERE d.status = ? AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id"
        " LIMIT 100",
        (PENDING, time.time()),
    )
    acknowledged = 0
    for delivery in due:
        if poster.stopped:
            break
        status_code, error = poster.post(
            config.webhook_url, config.webhook_secret, bytes(delivery["payload"])
        )
        attempts = delivery["attempts"] + 1
        with store.transaction() as connection:
            if status_code is not None and 200 <= status_code < 300:
                acknowledged += 1
                connection.execute(
                    "UPDATE deliveries SET status = ?, attempts = ?, last_status_code = ?,"
                    " last_error = NULL, delivered_at = ? WHERE id = ?",
                    (DELIVERED, attempts, status_code, time.time(), delivery["id"]),
                )
            else:
                next_attempt = time.time() + retry_delay_s(config, attempts)
                connection.execute(
                    "UPDATE deliveries SET attempts = ?, last_status_code = ?, last_error = ?,"
                    " next_attempt_at = ? WHERE id = ?",
                    (attempts, status_code, error, next_attempt, delivery["id"]),
                )
                logger.info("webhook delivery %s failed (%s)", delivery["id"], status_code or error)
    return acknowledged


def list_events(store: SandboxStore, limit: int) -> list[EventView]:
    """Events newest last, each with the state of its deliveries."""
    events = store.fetch_all("SELECT * FROM events ORDER BY seq LIMIT ?", (limit,))
    listing: list[EventView] = []
    for event in events:
        deliveries = [
            DeliveryView(row["status"], row["attempts"], row["last_status_code"], row["last_error"])
            for row in store.fetch_all(
                "SELECT status, attempts, last_status_code, last_error FROM deliveries"
                " WHERE event_id = ? ORDER BY id",
                (event["id"],),
            )
        ]
        listing.append(
            EventView(
                id=event["id"],
                type=event["type"],
                created=event["created"],
                data=msgspec.json.decode(event["payload"])["data"],
                deliveries=deliveries,
                delivered=any(delivery.status == DELIVERED for delivery in deliveries),
            )
        )
    return listing
