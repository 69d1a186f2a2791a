"""Dependencies point inward: domain imports only the standard library and eventsourcing."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTER = {"api", "projections", "scheduler", "psp", "bench"}
PACKAGE = "payments"


def imported_roots(path: Path) -> set[str]:
    """The top-level names a module imports; `payments.x` counts as `x` (our subpackages)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            roots.add(parts[1] if parts[0] == PACKAGE and len(parts) > 1 else parts[0])
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


def test_code_imports_our_subpackages_only_through_the_payments_package() -> None:
    """`import domain.x` next to `import payments.domain.x` would load one file twice: two
    classes for one event topic, two exception types for one error (ADR 0008)."""
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for folder in (*OUTER, "domain", "tests")
        for path in (ROOT / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module]
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
            else []
        )
        if name.split(".")[0] in OUTER | {"domain"}
    }
    assert offenders == set()


def test_the_wheel_installs_one_top_level_package(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import zipfile

    source = tmp_path / "source"  # a copy: building in place would leave build/ behind
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".*", "build", "data", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("payments-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"payments"}
    assert "payments/domain/money.py" in names
    assert "payments/psp/sandbox/app.py" in names


def test_only_the_domain_saves_aggregates() -> None:
    """One command boundary (ADR 0009): every save() is in domain/; the rest call commands."""
    offenders = {
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for folder in ("api", "cli", "runtime", "projections", "psp", "scheduler")
        for path in (ROOT / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "save"
    }
    assert offenders == set()
