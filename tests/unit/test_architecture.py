"""Dependencies point inward: domain imports only the standard library and eventsourcing."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTER = {"api", "projections", "scheduler", "psp", "bench"}
PACKAGE = "payments"
# the folders the package links in as its subpackages (payments/api -> ../api, ...)
PACKAGED = sorted(link.name for link in (ROOT / PACKAGE).iterdir() if link.is_symlink())


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


# Which of our packages each package may import (ADR 0009): dependencies point inward, and
# nothing imports bench/ (it joins the command line through an entry point).
ALLOWED = {
    "domain": set(),
    "projections": {"domain"},
    "psp": {"domain", "projections"},
    "scheduler": {"domain", "projections"},
    "runtime": {"domain", "projections", "psp", "scheduler"},
    "api": {"domain", "projections", "psp", "runtime"},
    "cli": {"domain", "projections", "psp", "scheduler", "runtime", "api"},
    "bench": {"domain", "projections", "psp", "scheduler", "runtime", "api"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join((PACKAGE, *parts[: -1 if parts[-1] == "__init__" else None]))


def import_graph() -> dict[str, set[str]]:
    """Our modules and the modules of ours each imports (at any depth of the file)."""
    paths = {module_name(p): p for folder in ALLOWED for p in (ROOT / folder).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        for node in ast.walk(ast.parse(path.read_text())):
            found: list[str] = []
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            graph[name] |= {m for m in found if m in paths and m != name}
    return graph


def test_each_package_imports_only_the_packages_inside_it() -> None:
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if (a := module.split(".")[1]) != (b := target.split(".")[1]) and b not in ALLOWED[a]
    )
    assert offenders == []


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_only_the_event_store_module_names_the_events_table() -> None:
    offenders = {
        str(path.relative_to(ROOT))
        for folder in ALLOWED
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "projections" / "event_store.py"
        and ("payments_events" in path.read_text() or "events_table_name" in path.read_text())
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
    # the licence as an SPDX expression, with its text (setuptools' table form is deprecated)
    (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
    assert "License-Expression: Apache-2.0" in zipfile.ZipFile(wheel).read(metadata).decode()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    # every file the code reads beside itself (the console's templates, its stylesheet)
    tracked = subprocess.run(
        ["git", "ls-files", *PACKAGED], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    data = {f"payments/{name}" for name in tracked if Path(name).suffix not in {".py", ".md", ""}}
    assert data, "the console's templates are tracked files"
    assert data <= set(names)


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


MAX_MODULE_LINES = 400  # issue #12: a module past this is split by meaning


def test_no_module_is_over_400_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for folder in (*ALLOWED, "tests")
        for path in (ROOT / folder).rglob("*.py")
    }
    assert len(sizes) > 100  # the folders were found
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
