"""The day's place stage stops the day when a checkout was not created."""

from __future__ import annotations

import socket

import pytest

from payments.bench.day import _place


def test_a_checkout_not_created_stops_the_day() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed when the block ends: nobody listens there
    cards = [("good", "tok_unused")] * 3
    with pytest.raises(RuntimeError, match=r"created 0 of 3 checkouts"):
        _place(f"http://127.0.0.1:{port}", "pk_test_x", "day", cards, clients=2, deadline_s=10)
