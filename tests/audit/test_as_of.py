"""As-of answers replay history: orders, balances and wallets as they stood at an instant,
right even while the views lag, refused (never wrong) when a view is far behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments.projections.audit import as_of
from payments.projections.audit import instants as event_log
from payments.projections.audit.instants import AsOfUnavailable, InstantError, parse_instant
from payments.projections.audit.order_history import order_history
from payments.projections.catalog import LiveViews
from payments.runtime.services import Services
from tests.audit.conftest import place, succeed, tell_story
from tests.projections.conftest import catch_up_all


def test_an_order_as_of_each_instant_is_what_it_was_then(services: Services) -> None:
    story = tell_story(services)
    pool, app = services.pool, services.application
    assert as_of.order_as_of(pool, app, story.order_a, story.before) is None
    placed = as_of.order_as_of(pool, app, story.order_a, story.placed)
    started = as_of.order_as_of(pool, app, story.order_a, story.started)
    paid = as_of.order_as_of(pool, app, story.order_a, story.paid)
    assert placed is not None
    assert started is not None
    assert paid is not None
    assert (placed.row.status, placed.row.attempts, placed.ledger_updated) == (
        "NOT_STARTED",
        0,
        False,
    )
    assert (started.row.status, started.row.attempts, started.wallet_updated) == (
        "EXECUTING",
        1,
        False,
    )
    assert (paid.row.status, paid.row.psp_reference) == ("SUCCESS", f"ch_{story.order_a}")
    assert paid.ledger_updated
    assert paid.wallet_updated
    assert placed.row.created_at == paid.row.created_at < paid.row.updated_at <= story.paid


def test_balances_as_of_come_from_history_even_while_the_views_have_not_moved(
    services: Services,
) -> None:
    story = tell_story(services)  # no projection has run: every view is at position 0
    pool, app = services.pool, services.application
    assert as_of.account_as_of(pool, app, "seller:seller_a:pending", story.started)[0] is None
    balance, state = as_of.account_as_of(pool, app, "seller:seller_a:pending", story.paid)
    assert balance is not None
    assert (balance.credit_minor, balance.entry_count) == (2500, 1)
    assert state.view_position == 0
    assert len(state.tail) == 2
    wallet = as_of.wallet_as_of(pool, app, "seller_a", story.paid)
    assert wallet is not None
    assert (wallet.pending_minor, wallet.available_minor, wallet.credit_count) == (2500, 0, 1)
    assert as_of.wallet_as_of(pool, app, "seller_a", story.started) is None
    trial, _ = as_of.trial_balance_as_of(pool, app, story.paid)
    assert trial.total_minor == 0
    assert [a.account for a in trial.accounts] == [
        "psp_receivable",
        "seller:seller_a:pending",
    ]


def test_as_of_now_equals_the_caught_up_live_views_and_the_past_is_stable(
    services: Services,
) -> None:
    story = tell_story(services)
    pool, app = services.pool, services.application
    before_views = as_of.account_as_of(pool, app, "psp_receivable", story.paid)[0]
    catch_up_all(services)
    for seller, amounts in (("seller_b", (100, 200)), ("seller_a", (999,))):
        for order in place(services, seller, *amounts):
            succeed(services, order)
    catch_up_all(services)
    now = datetime.now(UTC)
    live = LiveViews.on(pool)
    trial, _ = as_of.trial_balance_as_of(pool, app, now)
    assert trial == live.ledger.trial_balance()
    assert as_of.wallet_as_of(pool, app, "seller_b", now) == live.wallets.wallet("seller_b")
    # The past does not change when the views move on.
    assert as_of.account_as_of(pool, app, "psp_receivable", story.paid)[0] == before_views
    statement = as_of.statement_as_of(
        pool,
        as_of.account_as_of(pool, app, "seller:seller_a:pending", story.paid)[1],
        "seller:seller_a:pending",
        story.paid,
        limit=10,
    )
    assert [e.credit_minor for e in statement.entries] == [2500]


def test_a_view_too_far_behind_is_refused_never_answered_wrong(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = tell_story(services)
    monkeypatch.setattr(event_log, "TAIL_LIMIT", 1)
    with pytest.raises(AsOfUnavailable, match="behind"):
        as_of.account_as_of(services.pool, services.application, "psp_receivable", story.paid)
    catch_up_all(services)
    balance, _ = as_of.account_as_of(
        services.pool, services.application, "psp_receivable", story.paid
    )
    assert balance is not None
    assert balance.debit_minor == 2500


def test_history_lists_every_event_with_position_and_never_the_card_token(
    services: Services,
) -> None:
    story = tell_story(services)
    history = order_history(services.pool, services.application, story.order_a)
    assert history is not None
    assert [e.event_type for e in history] == [
        "PaymentOrder.Created",
        "PaymentOrder.ExecutionStarted",
        "PaymentOrder.Succeeded",
    ]
    assert [e.position for e in history] == sorted(e.position for e in history)
    assert history[0].data["amount"] == "25.00"
    assert "card_token" not in history[0].data
    assert "tok_secret" not in repr(history)
    assert [p.account for p in history[2].postings] == ["psp_receivable", "seller:seller_a:pending"]
    assert order_history(services.pool, services.application, "po_unknown") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "RFC 3339"),
        ("2025-01-31T12:00:00", "no UTC offset"),
        ("2025-02-30T12:00:00Z", "not a valid"),
        ("2999-01-01T00:00:00Z", "future"),
    ],
)
def test_unusable_instants_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(InstantError, match=message):
        parse_instant(text)


def test_instants_with_offsets_become_utc() -> None:
    parsed = parse_instant("2025-01-31T13:00:00.5+01:00")
    assert parsed == datetime(2025, 1, 31, 12, 0, 0, 500000, tzinfo=UTC)
    assert parse_instant("2999-01-01T00:00:00Z", allow_future=True).year == 2999
    assert parse_instant((datetime.now(UTC) - timedelta(seconds=1)).isoformat()) is not None
