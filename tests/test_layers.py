"""The house keeps its floors: no import circle, and no part importing a part above it.

Read from the code with `ast`, every import counted, also those inside functions: an import
deferred into a function to dodge a circle is still a circle. The floors, lowest first, are
in LAYERS; a module may import its own part and any part on a lower floor, nothing else.
README.md's folder table draws the same floors.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "connectors", "pipeline", "dashboards")

LAYERS: tuple[tuple[str, ...], ...] = (
    ("schemas",),
    ("pipeline.ground",),
    ("pipeline.store",),
    ("pipeline.sinks", "pipeline.measures"),
    ("connectors", "pipeline.worker", "pipeline.reports"),
    ("pipeline.simulated", "pipeline.ingest", "dashboards"),
    ("pipeline.demo",),
    ("pipeline.cli",),
)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports, wherever in the file the import stands."""
    out = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def part_of(module: str) -> tuple[int, str]:
    """(floor, part) of a module: the longest LAYERS prefix that holds it."""
    best = None
    for floor, parts in enumerate(LAYERS):
        for part in parts:
            if (module == part or module.startswith(part + ".")) and (best is None or len(part) > len(best[1])):
                best = (floor, part)
    if best is None:
        raise AssertionError(f"{module} stands on no floor: add its part to LAYERS in tests/test_layers.py")
    return best


GRAPH = {module: imported(module, path, set(modules())) for module, path in modules().items()}


def test_every_module_stands_on_a_floor() -> None:
    for module in GRAPH:
        if module not in PACKAGES and module != "pipeline":
            part_of(module)


def test_no_part_imports_a_part_on_its_own_floor_or_above() -> None:
    wrong = []
    for module, targets in GRAPH.items():
        if module in PACKAGES:
            continue
        floor, part = part_of(module)
        for target in targets:
            if target in PACKAGES:
                continue
            target_floor, target_part = part_of(target)
            if target_part != part and target_floor >= floor:
                wrong.append(f"{module} (floor {floor}) imports {target} (floor {target_floor})")
    assert wrong == []


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    assert circles(GRAPH) == []


@pytest.mark.parametrize(("graph", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set(), "c": {"b"}}, []),
])
def test_the_circle_finder_finds_circles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert circles(graph) == expected


def test_an_import_inside_a_function_counts(tmp_path: Path) -> None:
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from pipeline.cli import app\n    return app\n")
    assert imported("pipeline.ground.late", source, {"pipeline.cli", "pipeline"}) == {"pipeline.cli"}
