"""The engine's modules import one another in one direction only: no cycle
(a session codec that reads components' states, not components that save
themselves through it)."""
from __future__ import annotations

import ast
from pathlib import Path

import bnviz.engine

ENGINE = Path(bnviz.engine.__file__).parent


def engine_imports() -> dict[str, set[str]]:
    graph = {}
    for f in ENGINE.glob("*.py"):
        if f.name == "__init__.py":
            continue
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):   # lazy imports inside functions too
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                deps.add(node.module.split(".")[0])
        graph[f.stem] = deps
    return graph


def test_engine_imports_have_no_cycle():
    graph = engine_imports()
    state: dict[str, int] = {}   # 1: on the current path, 2: done

    def visit(m, path):
        if state.get(m) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            visit(d, path + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])
    assert "session" not in set().union(*(graph[m] for m in graph if m != "session"))
