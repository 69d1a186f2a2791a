"""Webhook endpoints' rules, without a database (domain/webhook_endpoint.py, ADR 0027)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from uuid import uuid4

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from payments.domain.errors import IllegalTransition, InvalidCommand
from payments.domain.payment_order import PaymentOrder
from payments.domain.seller import Seller
from payments.domain.webhook_endpoint import (
    EVENT_TYPES,
    PING_TYPE,
    TOPICS,
    DeliveryPolicy,
    WebhookEndpoint,
    hears_seller,
    public_type,
    signing_generations,
    url_errors,
)
from payments.projections.core import TrackedEvent
from payments.projections.followers.webhook_events import (
    body_of,
    delivery_id_of,
    event_id_for,
    event_id_of,
)
from payments.runtime.secrets import endpoint_secret
from tests.unit.apps import make_app


@pytest.mark.parametrize(
    "url",
    ["https://shop.example/hooks", "https://shop.example:8443/a?b=c", "https://[2606:4700::1]/x"],
)
def test_https_urls_are_accepted(url: str) -> None:
    assert url_errors(url, production=True) == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://shop.example/hooks", "plain http is refused"),
        ("ftp://shop.example/hooks", "https://"),
        ("https:///hooks", "must name a host"),
        ("https://user:pw@shop.example/", "user name or password"),
        ("https://shop.example/#top", "fragment"),
        ("https://shop.example/a b", "spaces or control"),
        ("https://shop.example/\x00", "spaces or control"),
        ("https://0.0.0.0/", "can be reached"),
        ("https://224.0.0.1/", "can be reached"),
        ("https://shop.example:0/", "port 0"),
        ("https://shop.example:99999/", "is not a URL"),
        ("https://[::1/", "is not a URL"),
        ("https://shop.example/" + "a" * 2048, "at most 2048"),
    ],
)
def test_urls_that_cannot_be_an_endpoint_are_refused_saying_why(url: str, says: str) -> None:
    problems = url_errors(url, production=True)
    assert any(says in p for p in problems), problems


def test_plain_http_and_private_addresses_only_outside_production_mode() -> None:
    assert url_errors("http://127.0.0.1:9000/hooks", production=False) == []
    assert url_errors("http://127.0.0.1:9000/hooks", production=True)
    for private in ("10.0.0.7", "127.0.0.1", "169.254.169.254", "[::1]", "[fd00::1]"):
        assert url_errors(f"https://{private}/hooks", production=False) == []
        assert url_errors(f"https://{private}/hooks", production=True) == [
            "must name a public address in production mode"
        ]


def _register(**more: object) -> WebhookEndpoint:
    arguments: dict[str, object] = {
        "endpoint_id": "we_1",
        "url": "https://shop.example/hooks",
        "event_types": ["refund.failed", "payment_order.succeeded"],
        "description": "shop",
        "created_by": "key1",
        "production": True,
    }
    arguments.update(more)
    return WebhookEndpoint.register(**arguments)  # type: ignore[arg-type]


def test_every_field_at_fault_is_named_at_once() -> None:
    with pytest.raises(InvalidCommand) as refused:
        _register(url="http://x/", event_types=["payment.nope"], description="a\nb")
    assert {e.field for e in refused.value.errors} == {"url", "event_types", "description"}
    with pytest.raises(InvalidCommand, match="at least one"):
        _register(event_types=[])
    with pytest.raises(InvalidCommand) as twice:
        _register(event_types=["refund.failed", "refund.failed"])
    assert "twice" in twice.value.errors[0].message


def test_an_endpoint_rotates_its_secret_and_is_disabled() -> None:
    endpoint = _register()
    assert endpoint.event_types == ["payment_order.succeeded", "refund.failed"]  # sorted
    until = datetime(2026, 12, 8, tzinfo=UTC)
    assert endpoint.rotate_secret(until, "key1") == 2
    assert endpoint.previous_until == until
    endpoint.disable("moving to a new shop", "key1")
    with pytest.raises(IllegalTransition):
        endpoint.disable("again", "key1")
    with pytest.raises(IllegalTransition):
        endpoint.rotate_secret(until, "key1")
    with pytest.raises(InvalidCommand):
        _register().disable("  ", "key1")  # a reason, not blank


def test_a_rotation_signs_with_both_secrets_until_the_overlap_ends() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert signing_generations(1, None, now) == (1,)
    assert signing_generations(2, now + timedelta(hours=1), now) == (2, 1)
    assert signing_generations(2, now, now) == (2,)  # the overlap is over
    assert signing_generations(3, now - timedelta(seconds=1), now) == (3,)


def test_secrets_are_derived_per_endpoint_and_generation_from_the_key() -> None:
    one = endpoint_secret("audit", "we_1", 1)
    assert one.startswith("whsec_")
    assert len(one) > 40
    assert one == endpoint_secret("audit", "we_1", 1)  # every process derives the same
    others = {
        endpoint_secret("audit", "we_1", 2),
        endpoint_secret("audit", "we_2", 1),
        endpoint_secret("other", "we_1", 1),
    }
    assert one not in others
    assert len(others) == 3


def test_deliveries_back_off_within_the_ceiling_and_stop_after_the_last_attempt() -> None:
    policy = DeliveryPolicy(max_attempts=5, backoff_base_s=10, backoff_cap_s=60)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60)]:
        delays = [policy.next_attempt_in(attempts, rng) for _ in range(200)]
        assert all(
            d is not None and timedelta(0) <= d <= timedelta(seconds=ceiling) for d in delays
        )
        assert max(d for d in delays if d is not None) > timedelta(seconds=ceiling * 0.8)
    assert policy.next_attempt_in(5, rng) is None
    assert policy.next_attempt_in(6, rng) is None


def test_every_public_type_follows_its_own_stored_topics() -> None:
    assert len(TOPICS) == sum(len(classes) for classes in EVENT_TYPES.values())
    assert all(name.count(".") == 1 and name.islower() for name in EVENT_TYPES)


def test_a_risk_verdict_or_a_kyc_submission_counts_only_when_it_decides() -> None:
    def assessed(outcome: str) -> PaymentOrder.RiskAssessed:
        return PaymentOrder.RiskAssessed(
            originator_id=uuid4(), originator_version=2, timestamp=datetime.now(UTC),
            outcome=outcome, rule="velocity", numbers={}, detail="",
        )  # fmt: skip

    assert public_type(assessed("decline")) == "payment_order.failed"
    assert public_type(assessed("review")) is None
    assert public_type(assessed("allow")) is None

    def submitted(status: str) -> Seller.KycSubmitted:
        return Seller.KycSubmitted(
            originator_id=uuid4(), originator_version=2, timestamp=datetime.now(UTC),
            psp_account_id="acct_1", status=status, reason=None,
        )  # fmt: skip

    assert public_type(submitted("verified")) == "seller.kyc_decided"
    assert public_type(submitted("rejected")) == "seller.kyc_decided"
    assert public_type(submitted("pending")) is None


def _tracked(event: object, position: int = 41) -> TrackedEvent:
    return TrackedEvent(position, "t", event)


def test_the_body_holds_the_object_s_terms_and_what_the_event_says() -> None:
    created = SimpleNamespace(
        payment_order_id="po_1", checkout_id="co_1", seller_account="s1",
        amount_minor=1250, currency="USD", card_token="tok_secret",
    )  # fmt: skip
    event = SimpleNamespace(
        originator_id=uuid4(), originator_version=3, psp_reference="ch_1",
        code=SimpleNamespace(value="card_declined"), reason="declined by the bank",
        timestamp=datetime(2026, 12, 7, 3, 4, 5, tzinfo=UTC),
    )  # fmt: skip
    body = msgspec.json.decode(body_of(_tracked(event), "payment_order.failed", created))
    assert body["type"] == "payment_order.failed"
    assert body["created"] == "2026-12-07T03:04:05Z"
    assert body["position"] == 41
    assert body["data"] == {
        "object": "payment_order",
        "payment_order_id": "po_1",
        "checkout_id": "co_1",
        "seller_account": "s1",
        "amount": "12.50",
        "currency": "USD",
        "status": "FAILED",
        "psp_reference": "ch_1",
        "failure_code": "card_declined",
        "failure_reason": "declined by the bank",
        "url": "/payments/po_1",
    }
    assert "tok_secret" not in str(body)  # only the terms named, never a token


def test_event_and_delivery_ids_are_stable_and_distinct() -> None:
    event = SimpleNamespace(originator_id=uuid4(), originator_version=2)
    same = SimpleNamespace(originator_id=event.originator_id, originator_version=2)
    later = SimpleNamespace(originator_id=event.originator_id, originator_version=3)
    first = event_id_of(_tracked(event))
    assert first == event_id_of(_tracked(same, position=99))
    assert first != event_id_of(_tracked(later))
    assert first.startswith("evt_")
    assert len(first) == 36
    assert delivery_id_of(first, "we_1") != delivery_id_of(first, "we_2")
    assert delivery_id_of(first, "we_1").startswith("whd_")


def test_an_order_blocked_by_the_risk_rules_is_a_failed_order_with_its_code() -> None:
    created = SimpleNamespace(
        payment_order_id="po_2", checkout_id="co_2", seller_account="s1",
        amount_minor=500, currency="USD",
    )  # fmt: skip
    assessed = PaymentOrder.RiskAssessed(
        originator_id=uuid4(), originator_version=2, timestamp=datetime.now(UTC),
        outcome="decline", rule="velocity", numbers={"count": 9}, detail="9 in 10 minutes",
    )  # fmt: skip
    reviewed = PaymentOrder.RiskReviewed(
        originator_id=uuid4(), originator_version=3, timestamp=datetime.now(UTC),
        approved=False, reason="stolen card", actor="key9", rule="amount", reference="po_2",
    )  # fmt: skip
    at_once = msgspec.json.decode(body_of(_tracked(assessed), "payment_order.failed", created))
    assert at_once["data"]["status"] == "FAILED"
    assert at_once["data"]["failure_code"] == "blocked_by_risk"
    assert at_once["data"]["failure_reason"] == "blocked by risk rule velocity: 9 in 10 minutes"
    in_review = msgspec.json.decode(body_of(_tracked(reviewed), "payment_order.failed", created))
    assert (
        in_review["data"]["failure_reason"] == "declined in review (risk rule amount): stolen card"
    )
    assert "key9" not in str(in_review)  # the operator's key is not the merchant's business


def test_a_ping_is_an_event_of_an_enabled_endpoint_and_its_body_names_the_endpoint() -> None:
    endpoint = _register()
    endpoint.ping("key1")
    [*_, pinged] = endpoint.collect_events()
    assert isinstance(pinged, WebhookEndpoint.Pinged)
    assert (pinged.pinged_by, pinged.originator_version) == ("key1", 2)
    assert event_id_for(endpoint.id, 2) == event_id_of(_tracked(pinged))  # known at once
    body = msgspec.json.decode(body_of(_tracked(pinged), PING_TYPE, endpoint))
    assert body["type"] == "webhook_endpoint.ping"
    assert body["data"] == {
        "object": "webhook_endpoint",
        "endpoint_id": endpoint.endpoint_id,
        "url": f"/webhook-endpoints/{endpoint.endpoint_id}",
    }
    assert PING_TYPE not in EVENT_TYPES  # not one to subscribe to
    endpoint.disable("gone", "key1")
    with pytest.raises(IllegalTransition):
        endpoint.ping("key1")


def test_an_endpoint_of_one_seller_hears_that_seller_alone_and_never_a_checkout() -> None:
    endpoint = _register(seller_account="seller_a")
    assert endpoint.seller_account == "seller_a"
    assert _register().seller_account is None, "a merchant's endpoint hears every seller"
    with pytest.raises(InvalidCommand) as refused:
        _register(seller_account="seller_a", event_types=["checkout.completed", "refund.failed"])
    [error] = refused.value.errors
    assert (error.field, "several sellers" in error.message) == ("event_types", True)
    assert hears_seller(None, "seller_a")
    assert hears_seller(None, None), "every seller's endpoint hears a checkout of several"
    assert hears_seller("seller_a", "seller_a")
    assert not hears_seller("seller_a", "seller_b")
    assert not hears_seller("seller_a", None)


def test_an_endpoint_stored_before_sellers_had_endpoints_hears_every_seller() -> None:
    """A Created stored by v0.8 (no seller_account, no class_version) loads as every
    seller's endpoint, with the rest as stored."""
    app = make_app()
    endpoint_uuid = WebhookEndpoint.create_id("we_old")
    state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-12-06T12:00:00+00:00"},
        "originator_topic": "payments.domain.webhook_endpoint:WebhookEndpoint",
        "endpoint_id": "we_old",
        "url": "https://shop.example/hooks",
        "event_types": ["refund.failed"],
        "description": "",
        "created_by": "key1",
    }
    app.recorder.insert_events(
        [
            StoredEvent(
                endpoint_uuid,
                1,
                "payments.WebhookEndpoint.Created.v1",
                json.dumps(state).encode(),
            )
        ]
    )
    loaded = app.repository.get(endpoint_uuid)
    assert isinstance(loaded, WebhookEndpoint)
    assert (loaded.endpoint_id, loaded.event_types, loaded.seller_account) == (
        "we_old",
        ["refund.failed"],
        None,
    )


def test_an_endpoint_moves_to_another_url_checked_as_at_registration() -> None:
    endpoint = _register(description="old")
    assert endpoint.update("https://new.example/hooks", None, "key2", production=True)
    assert (endpoint.url, endpoint.description) == ("https://new.example/hooks", "old")
    assert not endpoint.update("https://new.example/hooks", "old", "key2", production=True)
    assert endpoint.update(None, "renamed", "key2", production=True)
    assert [type(e).__name__ for e in endpoint.collect_events()][-2:] == ["Updated", "Updated"]
    with pytest.raises(InvalidCommand) as refused:
        endpoint.update("http://10.0.0.7/x", "a\nb", "key2", production=True)
    assert {e.field for e in refused.value.errors} == {"url", "description"}
    endpoint.disable("moved", "key2")
    with pytest.raises(IllegalTransition):
        endpoint.update("https://other.example/", None, "key2", production=True)


def test_an_endpoint_changes_the_types_it_hears_checked_as_at_registration() -> None:
    endpoint = _register()
    assert endpoint.update(None, None, "key2", production=True, event_types=["dispute.opened"])
    assert endpoint.event_types == ["dispute.opened"]
    assert not endpoint.update(None, None, "key2", production=True, event_types=["dispute.opened"])
    both = endpoint.update(
        "https://new.example/", None, "key2", production=True, event_types=["refund.failed"]
    )
    assert both
    assert (endpoint.url, endpoint.event_types) == (
        "https://new.example/",
        ["refund.failed"],
    )
    names = [type(e).__name__ for e in endpoint.collect_events()]
    assert names == ["Created", "TypesChanged", "Updated", "TypesChanged"]
    for types in ([], ["payment.nope"], ["refund.failed", "refund.failed"]):
        with pytest.raises(InvalidCommand) as refused:
            endpoint.update(None, None, "key2", production=True, event_types=types)
        assert [e.field for e in refused.value.errors] == ["event_types"]
    one_seller = _register(seller_account="seller_a")
    with pytest.raises(InvalidCommand):  # a checkout is about several sellers
        one_seller.update(None, None, "k", production=True, event_types=["checkout.completed"])
    assert endpoint.event_types == ["refund.failed"], "nothing refused was applied"


def test_a_disabled_endpoint_is_enabled_again_and_an_enabled_one_is_not() -> None:
    endpoint = _register()
    with pytest.raises(IllegalTransition):
        endpoint.enable("key1")
    endpoint.disable("maintenance", "key1")
    endpoint.enable("key2")
    assert (endpoint.disabled, endpoint.disabled_reason) == (False, None)
    endpoint.ping("key2")  # what a disabled endpoint is refused, it may again
    endpoint.disable("again", "key2")
    assert endpoint.disabled_reason == "again"
    kinds = [type(e).__name__ for e in endpoint.collect_events()]
    assert kinds == ["Created", "Disabled", "Enabled", "Pinged", "Disabled"]
