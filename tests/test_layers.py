"""The package graph has no cycles: each package of `tokenops` imports only packages below it.

Read from the source with `ast` (every import, module-level or not), per top-level package
(`tokenops.gateway`, `tokenops.charging`, … and each top-level module on its own).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import tokenops

ROOT = Path(tokenops.__file__).parent


def _unit(module: str) -> str:
    """`tokenops.gateway.pipeline` -> `gateway`; a top-level module is a unit of its own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "tokenops"


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        source = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.name != "__init__.py" else "tokenops"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("tokenops.") and _unit(name) != source:
                    edges[source].add(_unit(name))
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan), each a cycle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_package_imports_one_that_imports_it_back() -> None:
    edges = _graph()
    assert {"gateway", "charging", "store", "edge"} <= set(edges), "the graph was read"
    cycles = _cycles(edges)
    detail = [{p: sorted(edges[p] & set(c)) for p in c} for c in cycles]
    assert cycles == [], f"import cycles between packages: {detail}"


def test_the_request_path_sits_below_the_surfaces_mounted_on_it() -> None:
    edges = _graph()
    for low in ("store", "charging", "providers", "translate", "gateway"):
        assert not edges[low] & {"edge", "admin", "dashboard", "cli"}, f"{low} imports a surface: {edges[low]}"
    assert not edges["store"] & {"charging", "gateway"}, edges["store"]
