"""An event in the log holding U+0000 (recorded before the API refused it, or from a PSP's
answer): the views that store its text show U+FFFD there and go on, where they used to stop,
poisoned; the log keeps the event as recorded, and a rebuild agrees with the live view."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from payments.domain.seller import Seller
from payments.domain.seller_commands import RegisterSeller
from payments.projections.audit.verify import verify_projection
from payments.projections.catalog import NAMES
from payments.projections.core import TrackedEvent
from payments.projections.source import ApplicationEventSource
from payments.projections.storable import storable
from payments.projections.views.access import AuditActionsView
from payments.psp.http import PspResponse
from payments.runtime.services import Services
from tests.conftest import services_on
from tests.projections.conftest import catch_up_all


@pytest.fixture
def services(fresh_database_url: str) -> Iterator[Services]:
    with services_on(fresh_database_url) as built:
        yield built


def test_a_reason_holding_a_nul_reaches_the_views_as_u_fffd(services: Services) -> None:
    account = f"s_{uuid.uuid4().hex[:12]}"
    services.sellers.register(RegisterSeller(account, "DE", "btok_abcd", {}, "key1"))
    # Recorded as the code before domain/reasons.py did (its command took any text): the
    # event method itself, past the check the command now makes.
    seller = services.sellers.get(account)
    seller._suspended(reason="\x00«\x16", suspended_by="key1", seller_account=account)
    services.application.save(seller)
    services.sellers.reinstate(account, "cleared", "key1")  # the view goes on after it
    catch_up_all(services)
    actions = AuditActionsView(services.pool).actions(actor="key1", after=0, limit=10)
    assert [(a.action, a.detail) for a in actions if a.subject == account] == [
        ("seller.registered", "country DE"),
        ("seller.suspended", "\ufffd«\x16"),
        ("seller.reinstated", "cleared"),
    ]
    seller = services.sellers.get(account)
    recorded = services.application.events.get(seller.id)  # the log keeps it as recorded
    assert [e.reason for e in recorded if isinstance(e, Seller.Suspended)] == ["\x00«\x16"]
    source = ApplicationEventSource(services.application)
    for name in NAMES:
        assert verify_projection(services.pool, source, name).identical, name


def test_storable_copies_only_an_event_holding_a_nul() -> None:
    event = Seller.Suspended(
        originator_id=uuid.uuid4(),
        originator_version=2,
        timestamp=Seller.Event.create_timestamp(),
        reason="a\x00b",
        suspended_by="key1",
        seller_account="s",
    )
    copied = storable(TrackedEvent(7, "topic", event))
    assert copied is not None
    assert (copied.notification_id, copied.topic) == (7, "topic")
    assert (copied.event.reason, event.reason) == ("a\ufffdb", "a\x00b")
    assert copied.event.originator_id == event.originator_id
    clean = Seller.Suspended(**{**vars(event), "reason": "ab"})
    assert storable(TrackedEvent(8, "topic", clean)) is None


def test_a_psp_answer_reads_with_u_fffd_for_each_nul_and_nothing_else_changed() -> None:
    answer = PspResponse(
        200,
        b'{"failure_message": "card \\u0000 declined", "codes": ["\\u0000"], '
        b'"\\u0000key": 1, "literal": "\\\\u0000", "amount": 5}',
    )
    assert answer.json() == {
        "failure_message": "card \ufffd declined",
        "codes": ["\ufffd"],
        "\ufffdkey": 1,
        "literal": "\\u0000",  # a backslash and five letters: no NUL
        "amount": 5,
    }
    plain = PspResponse(200, b'{"id": "ch_1"}')
    assert plain.json() == {"id": "ch_1"}
