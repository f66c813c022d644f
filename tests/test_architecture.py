"""The import rules of docs/architecture.md, read from the code's own imports (every import,
including those inside functions; not those under ``if TYPE_CHECKING``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("layers", "service")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names), skipping ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _modules() -> dict[str, set[str]]:
    """Module name -> every module name it imports (absolute)."""
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return {_module_name(p): _imports(p) for p in files}


IMPORTS = _modules()
#: Edges between our own modules (``from layers.export import x`` is an edge to layers.export).
GRAPH = {m: {i for i in imported if i in IMPORTS and i != m} for m, imported in IMPORTS.items()}


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("layers")))
def test_layers_never_import_the_service_or_a_web_framework(module: str) -> None:
    forbidden = ("service", "fastapi", "starlette")
    bad = sorted(m for m in IMPORTS[module] if m.split(".")[0] in forbidden)
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("service")))
def test_the_service_never_imports_a_cli_module(module: str) -> None:
    bad = sorted(m for m in IMPORTS[module] if m == "layers.cli" or m.startswith("layers.cli."))
    assert not bad, f"{module} imports {bad}"


def test_the_import_graph_has_no_cycles() -> None:
    # A package's __init__ re-exporting its own modules is not a cycle of meaning: leave those edges out.
    edges = {m: {e for e in es if not e.startswith(m + ".")} for m, es in GRAPH.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_rules_see_real_imports() -> None:
    """The graph is not empty by accident: known edges are found."""
    assert "layers.schema" in GRAPH["layers.store"]
    assert "layers.export.atomic" in GRAPH["layers.cli.mpi"]
    assert "fastapi" in IMPORTS["service.app"]
