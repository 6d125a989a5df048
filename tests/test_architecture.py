"""The package's shape, checked from its source: no back doors between modules, no import circles, thin faces.

- No module of ``tao_automl/`` uses another module's underscore-prefixed names (an import of
  ``_name``, or ``obj._name`` on anything but ``self``/``cls``): a module's insides are its own.
- The import graph of ``tao_automl`` modules (every import, including type-only ones and imports
  inside functions) has no cycle. ``from package import submodule`` counts as an edge to the
  submodule only: importing a submodule always initialises its package first, which is no cycle.
- ``server/`` holds adapters only: no module over 300 lines, and the gates live in
  ``tao_automl.workflow`` (the server never refuses by itself).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tao_automl"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = path
    return mods


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_module_uses_another_modules_underscore_names() -> None:
    uses = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                uses += [f"{where}: import {a.name}" for a in node.names if _private(a.name)]
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                base = node.value
                if not (isinstance(base, ast.Name) and base.id in ("self", "cls")):
                    uses.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not uses, "\n".join(uses)


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("tao_automl"):
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods]
                targets = subs if len(subs) == len(node.names) else [node.module, *subs]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("tao_automl")]
            for target in targets:
                while target not in mods and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in mods and target != module:
                    graph[module].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, if any (depth-first search with colours)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    assert "tao_automl.runner" not in graph["tao_automl.evaluation"]
    assert "tao_automl.platforms.base" not in graph["tao_automl.platforms.failures"]
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_check_can_fail() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_server_is_adapters_only() -> None:
    for path in (ROOT / "server").glob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 300, f"{path.name}: {len(text.splitlines())} lines"
        assert "GateRefusal(" not in text, f"{path.name} refuses by itself; gates belong to tao_automl.workflow"
