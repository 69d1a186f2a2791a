"""Group commit on PostgreSQL (ADR 0019): concurrent checkouts share transactions, and
none is lost, doubled, answered with another's write, or failed by a neighbour's conflict."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from payments.domain.application import OrderLine, PlaceCheckout
from payments.domain.errors import PaymentOrderConflict
from payments.domain.money import Money
from tests.conftest import services_on_new_database, unique

THREADS = 48


def checkout(checkout_id: str, order_ids: list[str]) -> PlaceCheckout:
    return PlaceCheckout(
        checkout_id=checkout_id,
        buyer_info={"email": "buyer@example.com"},
        card_token="tok_visa",
        card_details={"brand": "visa", "last4": "4242"},
        orders=tuple(OrderLine(o, "seller_gc", Money.parse("12.34", "USD")) for o in order_ids),
    )


def test_concurrent_checkouts_share_transactions_without_losing_or_mixing_any(
    admin_database_url: str,
) -> None:
    run = unique("gc")
    commands: list[PlaceCheckout] = []
    for i in range(THREADS):
        if i % 8 == 6:  # the same checkout again, as a client's retry does: the same answer
            commands.append(commands[i - 1])
        elif i % 8 == 7:  # another checkout taking an order id of the one before: one fails
            commands.append(checkout(f"{run}_co_{i}", [f"{run}_po_{i - 3}_0"]))
        else:
            commands.append(checkout(f"{run}_co_{i}", [f"{run}_po_{i}_0", f"{run}_po_{i}_1"]))
    with services_on_new_database(admin_database_url) as services:
        app = services.application
        start = threading.Barrier(THREADS)
        answers: list[Any] = [None] * THREADS

        def place(index: int) -> None:
            start.wait()
            try:
                answers[index] = app.place_checkout(commands[index])
            except PaymentOrderConflict as conflict:
                answers[index] = conflict

        threads = [threading.Thread(target=place, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        notifications = app.recorder.select_notifications(start=1, limit=10_000)
        by_id = {n.id: n for n in notifications}
        created = Counter(n.originator_id for n in notifications if n.originator_version == 1)
        assert set(created.values()) == {1}  # no aggregate created twice
        for index, answer in enumerate(answers):
            if index % 8 == 6:  # a retry: the identical placement, written once
                first = answers[index - 1]
                assert answer.checkout.id == first.checkout.id
                assert [o.id for o in answer.orders] == [o.id for o in first.orders]
                assert sorted([answer.created, first.created]) == [False, True]
            if index % 8 in (4, 7) or not answer.created:  # checked by pairs
                continue
            assert answer.position is not None
            # Its answer names its own write: the event at its position is one of its own.
            mine = {answer.checkout.id, *(o.id for o in answer.orders)}
            assert by_id[answer.position].originator_id in mine
            assert all(created[aggregate] == 1 for aggregate in mine)
        for index in range(7, THREADS, 8):
            pair = (answers[index - 3], answers[index])
            winners = [a for a in pair if not isinstance(a, PaymentOrderConflict)]
            assert len(winners) == 1, pair  # exactly one of the two, never both, never none
        stored = {n.originator_id for n in notifications}
        placed = [a for a in answers if not isinstance(a, PaymentOrderConflict)]
        assert {a.checkout.id for a in placed} <= stored
        # Each checkout's own key was written with its events: one per checkout placed, none
        # for one refused, each opening its checkout's buyer_info.
        with services.pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM privacy_keys").fetchone()
        assert row is not None
        assert row[0] == len({a.checkout.id for a in placed})
        for answer in placed:
            assert services.personal_data.open(answer.checkout.buyer_info).state == "readable"
        assert app.group_commit.transactions <= THREADS
