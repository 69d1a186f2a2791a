"""Dependencies point inward: domain imports only the standard library and eventsourcing."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTER = {"api", "projections", "scheduler", "psp", "bench"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_imports_only_stdlib_eventsourcing_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | {"eventsourcing", "domain", "__future__"}
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) - allowed)
        for path in (ROOT / "domain").rglob("*.py")
        if imported_roots(path) - allowed
    }
    assert offenders == {}


def test_no_inner_package_imports_the_composition_root() -> None:
    offenders = {
        str(path.relative_to(ROOT))
        for package in ("domain", "projections", "psp", "scheduler")
        for path in (ROOT / package).rglob("*.py")
        if "api" in imported_roots(path)
    }
    assert offenders == set()


def test_domain_never_imports_outer_layers() -> None:
    for path in (ROOT / "domain").rglob("*.py"):
        assert not imported_roots(path) & OUTER, path


def test_every_stored_event_topic_is_in_the_event_catalogue() -> None:
    catalogue = (ROOT / "docs" / "events.md").read_text()
    topics = {
        node.value.value
        for path in (ROOT / "domain").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "TOPIC" for t in node.targets)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and node.value.value.count(".") >= 3  # event topics: payments.<Aggregate>.<Event>.vN
    }
    assert topics, "no event topics found"
    assert sorted(t for t in topics if t not in catalogue) == []
