"""One version: the package's, printed by `payments --version`, named by the changelog, and
never older than a version docs/events.md says an event appeared in."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

import payments
from payments.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def _parts(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_installed_distribution_and_the_command_line_say_the_package_s_version() -> None:
    assert version("payments") == payments.__version__
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"payments, version {payments.__version__}\n"
    assert CliRunner().invoke(main, ["-V"]).output == result.output


def test_every_version_the_docs_name_is_in_the_changelog_and_none_is_newer() -> None:
    # docs/events.md's "Since" column and its "since vX" (other docs name libraries' versions)
    cited = set(re.findall(r"\bv(\d+\.\d+\.\d+)\b", (ROOT / "docs" / "events.md").read_text()))
    headings = re.findall(r"^## (\d+\.\d+\.\d+)$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings[0] == payments.__version__  # newest first
    assert headings == sorted(headings, key=_parts, reverse=True)
    assert cited <= set(headings)
    assert max(map(_parts, cited)) <= _parts(payments.__version__)
