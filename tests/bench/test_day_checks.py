"""The day's invariant on checkouts: one whose orders all ended and that is not done counts."""

from __future__ import annotations

from datetime import timedelta

from payments.bench.day_checks import checkouts_left_undone
from payments.bench.workload import place_command
from payments.projections.followers.execution_feed import ExecutionFeed
from payments.projections.followers.follower import Follower
from payments.projections.source import ApplicationEventSource
from tests.conftest import services_on_new_database
from tests.projections.conftest import catch_up_all
from tests.projections.events import fail, succeed


def test_a_checkout_whose_orders_all_ended_counts_until_it_is_done(admin_database_url: str) -> None:
    with services_on_new_database(admin_database_url) as services:
        app = services.application
        for index in range(2):
            app.place_checkout(place_command("co_day", index))
        ended = [app.get_order(f"co_day_0_{n}") for n in range(3)]  # all of the first
        app.save(succeed(ended[0]), fail(ended[1]), succeed(ended[2]))
        app.save(succeed(app.get_order("co_day_1_0")))  # one of the second: not done yet
        catch_up_all(services)
        assert checkouts_left_undone(services) == (1, 1)  # no feed has marked the first done
        feed = ExecutionFeed(services.pool, app, first_requery_delay=timedelta(seconds=30))
        Follower(feed, ApplicationEventSource(app)).run_until_idle()
        catch_up_all(services)  # the view sees PaymentDone
        assert checkouts_left_undone(services) == (1, 0)
