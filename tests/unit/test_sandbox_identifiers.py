"""The sandbox's identifiers: their shape, their alphabet, and every position drawn at random."""

from __future__ import annotations

import string

from payments.psp.sandbox.identifiers import new_id, new_token


def test_an_id_is_its_prefix_and_24_letters_or_digits() -> None:
    made = new_id("ch")
    assert made.startswith("ch_")
    assert len(made) == 27
    assert set(made[3:]) <= set(string.ascii_letters + string.digits)


def test_a_token_has_no_digit() -> None:
    made = new_token()
    assert made.startswith("tok_")
    assert len(made) == 28
    assert set(made[4:]) <= set(string.ascii_lowercase)


def test_every_position_of_an_id_varies_and_ids_do_not_repeat() -> None:
    ids = [new_id("x")[2:] for _ in range(4000)]
    assert len(set(ids)) == len(ids)
    for position in range(24):
        # 4,000 draws from 62 characters: a position drawn uniformly shows nearly all of them
        assert len({text[position] for text in ids}) >= 55, position
    tokens = [new_token()[4:] for _ in range(2000)]
    for position in range(24):
        assert len({text[position] for text in tokens}) >= 24, position
