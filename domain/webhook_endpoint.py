"""WebhookEndpoint: where the merchant wants to hear what happened (ADR 0027).

A merchant registers an HTTPS URL and the event types it wants (`payment_order.succeeded`,
`refund.failed`, ...); from then on every such event of the log is delivered to it, signed,
at least once, retried with backoff until it answers 2xx or the attempts run out. The
aggregate keeps the URL, the types and the secret's generation, never the secret: the secret
is derived from the deployment's key, the endpoint id and the generation (runtime/secrets.py),
so rotating it is an event and nothing secret is ever stored in the log.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain.checkout import Checkout
from payments.domain.dispute import Dispute
from payments.domain.errors import FieldError, IllegalTransition, InvalidCommand
from payments.domain.execution import full_jitter_delay
from payments.domain.ids import webhook_endpoint_uuid
from payments.domain.payment_order import PaymentOrder, Status
from payments.domain.payout import Payout
from payments.domain.reasons import require_reason
from payments.domain.refund import Refund
from payments.domain.seller import DECIDED, Seller

# The public name of each event a merchant may subscribe to, and the stored events it
# follows (`public_type` says which of them count). Names are part of the public contract:
# add new ones, never rename one.
EVENT_TYPES: dict[str, tuple[type[Any], ...]] = {
    "payment_order.succeeded": (PaymentOrder.Succeeded,),
    # Refused by the PSP, or blocked by the risk rules (at once, or in an operator's review).
    "payment_order.failed": (
        PaymentOrder.Failed,
        PaymentOrder.RiskAssessed,
        PaymentOrder.RiskReviewed,
    ),
    "checkout.completed": (Checkout.PaymentDone,),
    "refund.succeeded": (Refund.Succeeded,),
    "refund.failed": (Refund.Failed,),
    "dispute.opened": (Dispute.Opened,),
    "dispute.reopened": (Dispute.Reopened,),
    "dispute.won": (Dispute.Won,),
    "dispute.lost": (Dispute.Lost,),
    "payout.paid": (Payout.Paid,),
    "payout.failed": (Payout.Failed,),
    "payout.returned": (Payout.Returned,),
    # Decided later (a webhook, a look-up), or at once in the PSP's first answer.
    "seller.kyc_decided": (Seller.KycDecided, Seller.KycSubmitted),
}
DECIDED_STATUSES = frozenset(status.value for status in DECIDED)
_TYPE_OF_CLASS: dict[type[Any], str] = {
    cls: name for name, classes in EVENT_TYPES.items() for cls in classes
}
TOPICS: frozenset[str] = frozenset(str(cls.TOPIC) for cls in _TYPE_OF_CLASS)


def public_type(event: object) -> str | None:
    """The public type of a stored event, or None when it is not one merchants hear of (a
    risk verdict that blocks nothing, a KYC submission the PSP has not decided)."""
    name = _TYPE_OF_CLASS.get(type(event))
    if isinstance(event, (PaymentOrder.RiskAssessed, PaymentOrder.RiskReviewed)):
        return name if PaymentOrder.final_status_of(event) is Status.FAILED else None
    if isinstance(event, Seller.KycSubmitted):
        return name if event.status in DECIDED_STATUSES else None
    return name


# A test event a merchant asks for (POST /webhook-endpoints/{id}/ping): delivered to that
# endpoint alone, whatever its types; not one to subscribe to.
PING_TYPE = "webhook_endpoint.ping"

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 200


def url_errors(url: str, *, production: bool) -> list[str]:
    """What is wrong with `url` as a webhook endpoint (empty: nothing).

    HTTPS only in production mode (plain HTTP is for a receiver on the developer's machine
    in sandbox mode); a host, no user name or password (they would end up in logs), no
    fragment, no address that can never be reached (0.0.0.0, multicast), and in production
    mode no address that is not public (10.0.0.7, 127.0.0.1, 169.254.169.254). Whether a
    host *name* resolves to such an address is checked when delivering
    (runtime/webhook_sender.py): a name can change its address after this check."""
    if len(url) > MAX_URL_LENGTH:
        return [f"must be at most {MAX_URL_LENGTH} characters"]
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return ["must not contain spaces or control characters"]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return [f"is not a URL: {error}"]
    problems = []
    if parts.scheme not in ("https", "http"):
        problems.append("must start with https://")
    elif parts.scheme == "http" and production:
        problems.append("must use https:// (plain http is refused in production mode)")
    if not parts.hostname:
        problems.append("must name a host")
    if parts.username is not None or parts.password is not None:
        problems.append("must not carry a user name or password")
    if parts.fragment or url.endswith("#"):
        problems.append("must not have a #fragment")
    if port == 0:
        problems.append("must not name port 0")
    address = _address(parts.hostname or "")
    if address is not None and (address.is_unspecified or address.is_multicast):
        problems.append("must name an address that can be reached")
    elif address is not None and production and not address.is_global:
        problems.append("must name a public address in production mode")
    return problems


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None  # a name


# Types whose event is about more than one seller (a checkout's orders): an endpoint of one
# seller cannot hear them.
ACROSS_SELLERS = frozenset({"checkout.completed"})


def description_errors(description: str) -> list[str]:
    if len(description) > MAX_DESCRIPTION_LENGTH or any(
        ord(c) < 32 or 127 <= ord(c) < 160 for c in description
    ):
        return [f"must be at most {MAX_DESCRIPTION_LENGTH} printable characters"]
    return []


def type_errors(event_types: list[str], seller_account: str | None = None) -> list[str]:
    if not event_types:
        return ["must name at least one event type"]
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        return [f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"]
    if len(set(event_types)) != len(event_types):
        return ["must not name an event type twice"]
    across = sorted(ACROSS_SELLERS.intersection(event_types))
    if seller_account is not None and across:
        return [f"{', '.join(across)} is about several sellers: an endpoint of one cannot hear it"]
    return []


def hears_seller(scope: str | None, seller_account: str | None) -> bool:
    """Whether an endpoint of this seller scope (None: every seller's) hears an event about
    `seller_account` (None: about no one seller, such as a checkout of several)."""
    return scope is None or scope == seller_account


class WebhookEndpoint(Aggregate):
    TOPIC = "payments.WebhookEndpoint"

    class Created(Aggregate.Created):
        TOPIC = "payments.WebhookEndpoint.Created.v1"
        class_version = 2  # v2 adds the seller whose events alone it hears (None: every one's)
        endpoint_id: str
        url: str
        event_types: list[str]
        description: str
        created_by: str  # the API key id
        seller_account: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["seller_account"] = None

    class SecretRotated(Aggregate.Event):
        """A new secret (generation + 1); the previous one still signs until `previous_until`."""

        TOPIC = "payments.WebhookEndpoint.SecretRotated.v1"
        generation: int
        previous_until: datetime
        rotated_by: str

    class Disabled(Aggregate.Event):
        TOPIC = "payments.WebhookEndpoint.Disabled.v1"
        reason: str
        disabled_by: str

    class Enabled(Aggregate.Event):
        """A disabled endpoint hears again: events recorded after this one are delivered by
        its types; those recorded while it was disabled never are."""

        TOPIC = "payments.WebhookEndpoint.Enabled.v1"
        enabled_by: str

    class Updated(Aggregate.Event):
        """Where deliveries go and what the endpoint is called, from now on (the attempts
        still to come of waiting deliveries go to the new URL too)."""

        TOPIC = "payments.WebhookEndpoint.Updated.v1"
        url: str
        description: str
        updated_by: str

    class TypesChanged(Aggregate.Event):
        """The event types it hears from now on (sorted): events recorded after this one are
        delivered by these; deliveries made before stay as they were."""

        TOPIC = "payments.WebhookEndpoint.TypesChanged.v1"
        event_types: list[str]
        changed_by: str

    class Pinged(Aggregate.Event):
        """A test event asked for: one delivery of type PING_TYPE to this endpoint."""

        TOPIC = "payments.WebhookEndpoint.Pinged.v1"
        pinged_by: str

    @staticmethod
    def create_id(endpoint_id: str) -> UUID:
        return webhook_endpoint_uuid(endpoint_id)

    @classmethod
    def register(
        cls,
        endpoint_id: str,
        url: str,
        event_types: list[str],
        description: str,
        created_by: str,
        *,
        production: bool,
        seller_account: str | None = None,
    ) -> WebhookEndpoint:
        errors = [FieldError("url", m) for m in url_errors(url, production=production)]
        errors += [FieldError("event_types", m) for m in type_errors(event_types, seller_account)]
        errors += [FieldError("description", m) for m in description_errors(description)]
        if errors:
            raise InvalidCommand(errors)
        return cls(
            endpoint_id=endpoint_id,
            url=url,
            event_types=sorted(event_types),
            description=description,
            created_by=created_by,
            seller_account=seller_account,
        )

    @event(Created)
    def __init__(
        self,
        endpoint_id: str,
        url: str,
        event_types: list[str],
        description: str,
        created_by: str,
        seller_account: str | None,
    ) -> None:
        self.endpoint_id = endpoint_id
        self.url = url
        self.event_types = list(event_types)
        self.description = description
        self.created_by = created_by
        self.seller_account = seller_account
        self.generation = 1
        self.previous_until: datetime | None = None
        self.disabled = False
        self.disabled_reason: str | None = None

    def rotate_secret(self, previous_until: datetime, by: str) -> int:
        """The next secret; the current one keeps signing until `previous_until`."""
        if self.disabled:
            raise IllegalTransition("disabled", "secret rotated")
        self._secret_rotated(generation=self.generation + 1, previous_until=previous_until,
                             rotated_by=by)  # fmt: skip
        return self.generation

    def disable(self, reason: str, by: str) -> None:
        """No delivery from now on; what was waiting is cancelled (`enable` resumes)."""
        require_reason(reason)
        if self.disabled:
            raise IllegalTransition("disabled", "disabled")
        self._disabled(reason=reason, disabled_by=by)

    def enable(self, by: str) -> None:
        """Deliveries again, of the events recorded from now on; refused unless disabled."""
        if not self.disabled:
            raise IllegalTransition("enabled", "enabled")
        self._enabled(enabled_by=by)

    def update(
        self,
        url: str | None,
        description: str | None,
        by: str,
        *,
        production: bool,
        event_types: list[str] | None = None,
    ) -> bool:
        """A new URL, description or set of event types (None: unchanged); False when nothing
        changes. Refused for a disabled endpoint, and for what `register` would refuse (an
        endpoint of one seller never hears an event about several)."""
        if self.disabled:
            raise IllegalTransition("disabled", "updated")
        new_url = self.url if url is None else url
        new_description = self.description if description is None else description
        new_types = self.event_types if event_types is None else sorted(event_types)
        errors = [FieldError("url", m) for m in url_errors(new_url, production=production)]
        errors += [FieldError("description", m) for m in description_errors(new_description)]
        if event_types is not None:
            errors += [
                FieldError("event_types", m) for m in type_errors(event_types, self.seller_account)
            ]
        if errors:
            raise InvalidCommand(errors)
        changed = False
        if (new_url, new_description) != (self.url, self.description):
            self._updated(url=new_url, description=new_description, updated_by=by)
            changed = True
        if new_types != self.event_types:
            self._types_changed(event_types=new_types, changed_by=by)
            changed = True
        return changed

    @event(Updated)
    def _updated(self, url: str, description: str, updated_by: str) -> None:
        self.url = url
        self.description = description

    @event(TypesChanged)
    def _types_changed(self, event_types: list[str], changed_by: str) -> None:
        self.event_types = list(event_types)

    def ping(self, by: str) -> None:
        """A test event for this endpoint (a disabled one gets nothing: refused)."""
        if self.disabled:
            raise IllegalTransition("disabled", "pinged")
        self._pinged(pinged_by=by)

    @event(Pinged)
    def _pinged(self, pinged_by: str) -> None:
        pass

    @event(SecretRotated)
    def _secret_rotated(self, generation: int, previous_until: datetime, rotated_by: str) -> None:
        self.generation = generation
        self.previous_until = previous_until

    @event(Disabled)
    def _disabled(self, reason: str, disabled_by: str) -> None:
        self.disabled = True
        self.disabled_reason = reason

    @event(Enabled)
    def _enabled(self, enabled_by: str) -> None:
        self.disabled = False
        self.disabled_reason = None


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How patiently a delivery is tried again: exponential backoff with full jitter, the
    schedule of the executor's retries (ADR 0004), over hours rather than seconds: a
    merchant's endpoint may be down for a deploy or a night."""

    max_attempts: int = 16
    backoff_base_s: float = 10.0
    backoff_cap_s: float = 6 * 3600.0

    def next_attempt_in(self, attempts: int, rng: random.Random) -> timedelta | None:
        """After `attempts` failed attempts: the wait before the next one, or None when the
        delivery has failed for good (an operator may still redeliver it)."""
        if attempts >= self.max_attempts:
            return None
        delay = full_jitter_delay(attempts, self.backoff_base_s, self.backoff_cap_s, rng)
        return timedelta(seconds=delay)


def signing_generations(
    generation: int, previous_until: datetime | None, now: datetime
) -> tuple[int, ...]:
    """The generations of the secrets a delivery sent at `now` is signed with: the current
    one, and the one before it while the rotation's overlap lasts."""
    if previous_until is not None and now < previous_until and generation > 1:
        return (generation, generation - 1)
    return (generation,)
