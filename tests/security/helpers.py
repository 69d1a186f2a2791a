from __future__ import annotations

from payments.projections.followers.follower import Follower
from payments.projections.pg import PostgresView
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services


def catch_up(services: Services, view: PostgresView) -> None:
    Follower(view, ApplicationEventSource(services.application)).run_until_idle()
