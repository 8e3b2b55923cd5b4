"""Imports point down: no cycles among unlearnkit's modules (static, every import statement,
also those inside functions), and the ground floor and the engine import nothing above them."""

from __future__ import annotations

import ast
from pathlib import Path

import unlearnkit

ROOT = Path(unlearnkit.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()

    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                target = resolve(name) if name.startswith("unlearnkit") else ""
                # a module importing its own package's __init__ is not an edge of the layering
                if target and target != mod and not mod.startswith(target + "."):
                    graph[mod].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_low_modules_import_nothing_above_them():
    graph = _graph()
    assert graph["unlearnkit.records"] <= {"unlearnkit.errors"}
    above_engine = ("unlearnkit.benchmark", "unlearnkit.tuning", "unlearnkit.cli",
                    "unlearnkit.pipeline", "unlearnkit.api")  # fmt: skip
    for mod, targets in graph.items():
        if mod.startswith("unlearnkit.engine"):
            assert not {t for t in targets if t.startswith(above_engine)}, mod
        if not mod.startswith(("unlearnkit.cli", "unlearnkit.__main__")):
            assert not {t for t in targets if t.startswith("unlearnkit.cli")}, mod
