"""The shape of the house, checked from the code: no import cycles, and a pure NLP core.

The graph is built with ``ast`` from every project module, function-level imports included
(a lazy import is still a dependency). The NLP core is ``nlp`` minus its entry points
(``nlp.cli``, ``nlp.__main__``): it may not import ``data``, ``pages``, ``bench``,
``training``, streamlit or ray, nor the entry points.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nlp", "data", "pages", "bench", "training", "tools")
CORE_FORBIDDEN = ("data", "pages", "bench", "training", "tools", "streamlit", "ray", "nlp.cli")
ENTRY_POINTS = ("nlp.cli", "nlp.__main__")
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    found = {
        name: ROOT / f"{name}.py" for name in ("app", "server") if (ROOT / f"{name}.py").exists()
    }
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, at any depth of the file (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in _imports(name, path):
            # a project module, or the nearest project package above it
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
        graph.setdefault(name, set())
    return graph


def _is_core(name: str) -> bool:
    return name.split(".")[0] == "nlp" and not any(
        name == e or name.startswith(e + ".") for e in ENTRY_POINTS
    )


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    # a package's __init__ re-exporting its own modules is not a cycle between floors
    graph = {
        name: {t for t in targets if not name.startswith(t + ".")}
        for name, targets in _graph().items()
    }
    assert find_cycles(graph) == []


def test_the_nlp_core_imports_only_downwards() -> None:
    modules = _modules()
    bad = []
    for name, path in modules.items():
        if not _is_core(name):
            continue
        for target in _imports(name, path):
            if any(target == f or target.startswith(f + ".") for f in CORE_FORBIDDEN):
                bad.append(f"{name} -> {target}")
    assert bad == []


def test_the_data_layer_never_imports_pages_or_entry_points() -> None:
    bad = [
        f"{name} -> {target}"
        for name, targets in _graph().items()
        if name.split(".")[0] == "data"
        for target in targets
        if target.split(".")[0] in ("pages", "bench", "training", "app")
        or target.startswith("nlp.cli")
    ]
    assert bad == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_python_file_over_the_limit(package: str) -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / package).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}
