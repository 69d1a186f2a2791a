"""Small charts drawn on the server as SVG shapes (no script, no library, no CDN).

A chart is data the template draws: bars with their place, size, label and value. Each chart
also gets a table in the page, so the numbers do not depend on seeing the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, BAR, GAP, LABEL = 360, 18, 6, 110


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    horizontal: bool


def horizontal(title: str, values: Sequence[tuple[str, int]]) -> Chart:
    """One bar per row, label on the left, length by value."""
    top = max((v for _, v in values), default=0) or 1
    room = WIDTH - LABEL - 40
    bars = tuple(
        Bar(label, value, LABEL, i * (BAR + GAP), max(1, room * value // top), BAR)
        for i, (label, value) in enumerate(values)
    )
    return Chart(title, bars, WIDTH, max(BAR, len(bars) * (BAR + GAP)), horizontal=True)


def columns(title: str, values: Sequence[tuple[str, int]], height: int = 80) -> Chart:
    """One column per value, left to right, height by value."""
    top = max((v for _, v in values), default=0) or 1
    step = max(4, WIDTH // max(1, len(values)))
    bars = tuple(
        Bar(label, value, i * step, height - h, step - 2, h)
        for i, (label, value) in enumerate(values)
        for h in [height * value // top if value else 0]
    )
    return Chart(title, bars, WIDTH, height, horizontal=False)
