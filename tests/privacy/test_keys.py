"""The key table under concurrency, interruption and several processes (ADR 0012)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from litestar.testing import TestClient

from payments.domain.checkout import Checkout
from payments.domain.erasure import Erasure
from payments.domain.personal_data import SealedPersonalData, buyer_subject, checkout_subject
from payments.runtime.personal_data import PersonalDataKeys
from payments.runtime.privacy import erase_subject
from payments.runtime.services import Services
from tests.privacy.conftest import checkout_body, count, new_key

Client = TestClient  # type: ignore[type-arg]


def erasure_events(services: Services) -> list[Erasure]:
    with services.pool.connection() as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT originator_id FROM payments_events WHERE topic = %s",
                (Erasure.Created.TOPIC,),
            )
        ]
    return [services.application.repository.get(i) for i in ids]


def test_concurrent_first_uses_of_a_subject_make_one_key(services: Services) -> None:
    subject = buyer_subject(f"b_race_{uuid.uuid4().hex[:8]}")
    processes = [PersonalDataKeys(services.pool, 0) for _ in range(8)]  # no shared cache
    with ThreadPoolExecutor(8) as pool:
        sealings = list(pool.map(lambda i: processes[i % 8].seal(subject, {"n": i}), range(32)))
    assert len({s.sealed.key_id for s in sealings}) == 1
    digest = services.personal_data.subject_digest(subject)
    with services.pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM privacy_keys WHERE subject_digest = %s", (digest,)
        ).fetchone()
    assert row == (1,)
    for index, sealing in enumerate(sealings):
        assert services.personal_data.open(sealing.sealed).buyer_info == {"n": index}


def test_an_erasure_stopped_before_its_event_is_recorded_by_the_next_attempt(
    services: Services,
) -> None:
    keys = services.personal_data
    subject = buyer_subject(f"b_crash_{uuid.uuid4().hex[:8]}")
    sealed = keys.seal(subject, {"name": "Crash"}).sealed
    recorded = len(erasure_events(services))
    # The first step alone, as if the process died right after it.
    erased = keys.erase(subject, "cli:first-operator")
    assert erased is not None
    assert keys.open(sealed).state == "erased"  # unreadable at once
    assert len(erasure_events(services)) == recorded

    outcome = erase_subject(keys, services.erasures, subject, "cli:second-operator")
    assert outcome is not None
    assert not outcome.erased_now
    assert outcome.erasure.id == erased.erasure_id
    assert outcome.erasure.requested_by == "cli:first-operator"
    assert outcome.erasure.key_ids == [sealed.key_id.hex]
    assert len(erasure_events(services)) == recorded + 1
    erase_subject(keys, services.erasures, subject, "cli:third-operator")
    assert len(erasure_events(services)) == recorded + 1


def test_reads_stop_at_once_in_every_process_and_a_cached_key_only_seals_unreadably(
    services: Services,
) -> None:
    now = [1000.0]
    cached = PersonalDataKeys(services.pool, 60, clock=lambda: now[0])  # another process
    subject = buyer_subject(f"b_cache_{uuid.uuid4().hex[:8]}")
    before = cached.seal(subject, {"name": "Before"}).sealed
    assert cached.open(before).state == "readable"

    assert erase_subject(services.personal_data, services.erasures, subject, "cli:ops")
    assert cached.open(before).state == "erased"  # opening asks the table every time
    # Within the cache's lifetime the other process still seals with the erased key: what
    # it seals then is unreadable at once (it fails closed, never open).
    during = cached.seal(subject, {"name": "During"}).sealed
    assert during.key_id == before.key_id
    assert services.personal_data.open(during).state == "erased"
    now[0] += 61
    after = cached.seal(subject, {"name": "After"}).sealed
    assert after.key_id != before.key_id
    assert services.personal_data.open(after).buyer_info == {"name": "After"}


def test_a_tampered_or_keyless_ciphertext_reads_as_unreadable(services: Services) -> None:
    keys = services.personal_data
    sealed = keys.seal(buyer_subject("b_tamper"), {"name": "T"}).sealed
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    assert keys.open(SealedPersonalData(sealed.key_id, flipped)).state == "unreadable"
    assert keys.open(SealedPersonalData(uuid.uuid4(), sealed.ciphertext)).state == "unreadable"
    assert keys.open(SealedPersonalData(sealed.key_id, b"short")).state == "unreadable"


def test_a_checkout_recorded_in_clear_stays_readable_and_is_not_erased(
    client: Client, services: Services
) -> None:
    body = checkout_body({"buyer_id": "b_legacy", "name": "Legacy Buyer"})
    checkout = Checkout._create(
        Checkout.CreatedInClear,
        id=Checkout.create_id(body["checkout_id"]),
        checkout_id=body["checkout_id"],
        buyer_info=body["buyer_info"],
        card_token="tok_legacy",
        card_details={},
        payment_order_ids=[],
        content_fingerprint="recorded-before-adr-0012",
    )
    services.application.record(checkout)
    with services.pool.connection() as conn:
        row = conn.execute(
            "SELECT topic, state FROM payments_events WHERE originator_id = %s", (checkout.id,)
        ).fetchone()
    assert row is not None
    assert row[0] == "payments.Checkout.Created.v1"
    assert json.loads(bytes(row[1]))["buyer_info"]["name"] == "Legacy Buyer"

    url = f"/privacy/checkouts/{body['checkout_id']}/buyer-info"
    answer = client.get(url).json()
    assert (answer["state"], answer["encrypted"]) == ("readable", False)
    assert answer["buyer_info"] == body["buyer_info"]
    # Its buyer has no key: nothing to erase, and the clear copy stays (docs/security.md).
    keys_before = count(services, "privacy_keys")
    response = client.post("/privacy/erasures", json={"buyer_id": "b_legacy"}, headers=new_key())
    assert response.status_code == 404
    assert count(services, "privacy_keys") == keys_before
    assert client.get(url).json()["state"] == "readable"


def test_a_checkouts_own_key_is_used_once_and_never_cached(services: Services) -> None:
    cached = PersonalDataKeys(services.pool, 60)
    subject = checkout_subject(f"co_once_{uuid.uuid4().hex[:8]}")
    first = cached.seal(subject, {"name": "Once"}).sealed
    assert erase_subject(services.personal_data, services.erasures, subject, "cli:ops")
    again = cached.seal(subject, {"name": "Once"}).sealed
    assert again.key_id != first.key_id
    assert services.personal_data.open(again).state == "readable"
