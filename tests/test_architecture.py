"""The import rules of docs/architecture.md, read from the code's own imports (every import,
including those inside functions; not those under ``if TYPE_CHECKING``)."""

from __future__ import annotations

import ast
import re
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


def _defines_a_router(path: Path) -> bool:
    """Whether a module assigns ``router = APIRouter(...)`` at its top level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "router" for t in node.targets)
        and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func).endswith("APIRouter")
        for node in tree.body
    )


#: Router modules, and packages re-exporting one (``service.planner`` is its router).
ROUTERS = {_module_name(p) for p in (ROOT / "service").rglob("*.py") if _defines_a_router(p)}
ROUTERS |= {
    m for m in GRAPH if m.startswith("service") and any(e.startswith(m + ".") for e in GRAPH[m] & ROUTERS)
}


def _router_imports(module: str, imported: set[str]) -> list[str]:
    """The routers ``module`` imports, other than itself and the package that re-exports it.

    A package assembles its own routers into an app, as `service.app` does the rest
    (`service.verification.install`): its ``__init__`` may import them.
    """
    own = {module, module.rpartition(".")[0]}
    package = (ROOT / module.replace(".", "/") / "__init__.py").exists()
    return sorted(
        name
        for name in imported
        if name in ROUTERS and name not in own and not (package and name.startswith(module + "."))
    )


@pytest.mark.parametrize("module", sorted(m for m in ROUTERS if not m.endswith("planner")))
def test_a_router_never_imports_another_router(module: str) -> None:
    """Shared pieces (media types, static files, links) live in plain modules, not in a router."""
    bad = _router_imports(module, GRAPH[module])
    assert not bad, f"{module} imports the router(s) {bad}"


def test_the_router_rule_sees_the_routers() -> None:
    assert {"service.ogc", "service.docs", "service.planner", "service.planner.router"} <= ROUTERS
    assert "service.app" not in ROUTERS and "service.deps" not in ROUTERS
    assert _router_imports("service.docs", {"service.planner.router", "service.links"}) == [
        "service.planner.router"
    ]
    assert _router_imports("service.planner.router", {"service.planner", "service.assets"}) == []


def test_the_rules_see_real_imports() -> None:
    """The graph is not empty by accident: known edges are found."""
    assert "layers.schema" in GRAPH["layers.store"]
    assert "layers.atomic" in GRAPH["layers.cli.mpi"]
    assert "fastapi" in IMPORTS["service.app"]


#: The levels of docs/architecture.md ("Folders that show the flow"): a module imports only from
#: lower levels or from its own folder. Level 0 are the nouns every stage shares.
LEVELS: dict[str, int] = {
    "layers": 0,
    "layers._lazy": 0,
    "layers.errors": 0,
    "layers.types": 0,
    "layers.schema": 0,
    "layers.config": 0,
    "layers.rounding": 0,
    "layers.store": 0,
    "layers.atomic": 0,
    "layers.register": 0,
    "layers.cancel": 0,
    "layers.numbers": 0,
    "layers.demo": 1,
    "layers.sources": 1,
    "layers.geo": 2,
    "layers.verification": 2,
    "layers.scoring": 3,
    "layers.pipeline": 4,
    "layers.targeting": 4,
    "layers.query": 4,
    "layers.maps": 4,
    "layers.export": 5,
    "layers.cli": 6,
    "layers.testing": 6,
}


def _home(module: str) -> str:
    """The folder (or level-0 module) a module belongs to: its longest prefix in `LEVELS`."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in LEVELS:
            return ".".join(parts[:end])
    raise KeyError(module)


def test_every_library_module_has_a_level() -> None:
    unplaced = []
    for module in GRAPH:
        if module.startswith("layers"):
            try:
                _home(module)
            except KeyError:
                unplaced.append(module)
    assert not unplaced, f"add these to LEVELS and docs/architecture.md: {unplaced}"


def _upward_imports(module: str, imported: set[str]) -> list[str]:
    """The imports of ``module`` that break the level rule, as ``name (level n)``."""
    home = _home(module)
    level = LEVELS[home]
    bad = []
    for name in imported:
        if not name.startswith("layers"):
            continue
        other = _home(name)
        if other == home or (level == 0 and LEVELS[other] == 0):
            continue
        if LEVELS[other] >= level:
            bad.append(f"{name} (level {LEVELS[other]})")
    return sorted(bad)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("layers")))
def test_a_module_imports_only_lower_levels_or_its_own_folder(module: str) -> None:
    bad = _upward_imports(module, GRAPH[module])
    assert not bad, f"{module} (level {LEVELS[_home(module)]}) imports {bad}"


def test_the_level_rule_sees_a_violation() -> None:
    """The rule is not vacuous: an upward import, a sideways one and a level-0 import of a stage fail."""
    assert _upward_imports("layers.geo.grid", {"layers.scoring.rescore"}) == [
        "layers.scoring.rescore (level 3)"
    ]
    assert _upward_imports("layers.maps.tiles", {"layers.query.table"}) == ["layers.query.table (level 4)"]
    assert _upward_imports("layers.store", {"layers.geo.grid"}) == ["layers.geo.grid (level 2)"]
    assert _upward_imports("layers.export.gpkg", {"layers.maps.qml", "layers.schema", "numpy"}) == []


#: Public signatures in `layers` that pass ``dict[str, Any]`` (or a ``Mapping`` of it) across a
#: module boundary. A typed record (dataclass, TypedDict, pydantic model) says what travels; what
#: is left is untrusted input before validation (``from_dict``, ``config_from_dict``) and JSON
#: answers. The count only goes down: lower it when you type one. 14 before issue 19; its
#: `layers.verification` brought 29 family, village, account and audit records that travel as JSON
#: dicts (typed only at the HTTP edge, `service.verification.models`) and the planner's
#: `request_from_options` one more: typing those records is the next step down.
UNTYPED_CONTRACTS_CEILING = 44
_UNTYPED = re.compile(r"\b(?:dict|Mapping|MutableMapping)\[str, Any\]")


def _untyped_contracts(path: Path, name: str) -> list[str]:
    """``module:line function(param)`` or ``function ->``: each public annotation with ``dict[str, Any]``."""
    found: list[str] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
                args = node.args
                params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
                where = f"{name}:{node.lineno} {prefix}{node.name}"
                annotated = [a for a in params if a is not None and a.annotation is not None]
                found.extend(
                    f"{where}({a.arg})" for a in annotated if _UNTYPED.search(ast.unparse(a.annotation))
                )
                if node.returns is not None and _UNTYPED.search(ast.unparse(node.returns)):
                    found.append(f"{where} ->")

    visit(ast.parse(path.read_text(encoding="utf-8")).body, "")
    return found


def test_untyped_contracts_only_go_down() -> None:
    files = sorted((ROOT / "layers").rglob("*.py"))
    found = [entry for path in files for entry in _untyped_contracts(path, _module_name(path))]
    listing = "\n".join(found)
    assert len(found) <= UNTYPED_CONTRACTS_CEILING, (
        f"{len(found)} public signatures in layers/ pass dict[str, Any] (at most "
        f"{UNTYPED_CONTRACTS_CEILING}): type the new one with a dataclass or TypedDict\n{listing}"
    )
    assert len(found) == UNTYPED_CONTRACTS_CEILING, (
        f"only {len(found)} left: lower UNTYPED_CONTRACTS_CEILING to {len(found)}\n{listing}"
    )


def test_the_untyped_contract_count_sees_them(tmp_path: Path) -> None:
    module = tmp_path / "example.py"
    module.write_text(
        "from typing import Any\n"
        "def public(a: dict[str, Any], b: int) -> Mapping[str, Any]: ...\n"
        "def _private(a: dict[str, Any]) -> None: ...\n"
        "class Record:\n"
        "    def to_json(self) -> dict[str, Any]: ...\n"
        "    def _hidden(self, raw: dict[str, Any]) -> None: ...\n"
        "def typed(a: dict[str, float]) -> dict[str, object]: ...\n"
    )
    names = [entry.split(" ", 1)[1] for entry in _untyped_contracts(module, "layers.example")]
    assert names == ["public(a)", "public ->", "Record.to_json ->"]
