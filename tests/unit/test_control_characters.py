"""The edge's control-character check finds exactly Unicode's category Cc, in C."""

from __future__ import annotations

import sys
import unicodedata

from payments.api.edge import refuse_control_characters
from payments.api.problems import ProblemError


def _refused(scope: dict[str, object]) -> bool:
    try:
        refuse_control_characters(scope)  # type: ignore[arg-type]
    except ProblemError:
        return True
    return False


def test_every_code_point_is_refused_in_a_path_exactly_when_it_is_a_control_character() -> None:
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        control = unicodedata.category(character) == "Cc"
        assert _refused({"path": f"/payments/a{character}b"}) is control, hex(code)


def test_a_header_value_may_hold_a_tab_and_no_other_control_character() -> None:
    for code in range(0x00, 0xA0):
        value = f"x{chr(code)}y".encode("latin-1")
        refused = _refused({"path": "/", "headers": [(b"x-test", value)]})
        assert refused is (unicodedata.category(chr(code)) == "Cc" and code != 0x09), hex(code)
