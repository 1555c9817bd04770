"""The import graph of src/chipkit, built from the source with ast: layers hold.

For cycles and layers every import counts, including imports inside functions (they
are how cycles were dodged); imports under ``if TYPE_CHECKING:`` do not (they never
run). For what a module loads (the pure core stays light) only the imports run when it
is imported count: not those inside functions. Edges go from a module to each chipkit
module (and package ``__init__``) it imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "chipkit"

PURE_CORE = (
    "chipkit.token",
    "chipkit.base45",
    "chipkit.snowflake.encoder",
    "chipkit.snowflake.layout",
)
HEAVY = ("cv2", "PIL", "sqlalchemy", "reportlab", "click")
#: The trust layer, bottom to top: a module may import only modules listed before it.
TRUST_LAYERS = (
    "chipkit.errors",
    "chipkit.base45",
    "chipkit.token",
    "chipkit._files",
    "chipkit.keymemory",
    "chipkit.bundle",
    "chipkit.keyfile",
    "chipkit.issuer",
    "chipkit.verifier",
    "chipkit.keys",
)
#: The one upward edge allowed, with its reason: Verifier.scan is a convenience kept for
#: callers; it imports chipkit.scan lazily, and chipkit.scan imports Verifier for type
#: hints only, so there is no cycle.
ALLOWED_UPWARD = {("chipkit.verifier", "chipkit.scan")}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _runtime_nodes(tree: ast.AST, in_functions: bool) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (and in function bodies)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            if isinstance(child, _FUNCTIONS) and not in_functions:
                continue
            stack.append(child)


def _imports(path: Path, module: str, in_functions: bool = True) -> set[str]:
    """Absolute names of everything ``module`` imports at run time."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in _runtime_nodes(tree, in_functions):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out.add(prefix)
            out.update(f"{prefix}.{a.name}" for a in node.names)
    return out


def _graph(in_functions: bool = True) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = set()
        for imp in _imports(path, name, in_functions):
            parts = imp.split(".")
            # importing a.b.c runs a, a.b and a.b.c (packages' __init__ included)
            for i in range(1, len(parts) + 1):
                cand = ".".join(parts[:i])
                if cand in files and cand != name:
                    targets.add(cand)
        graph[name] = targets
    return graph


def _external(name: str, in_functions: bool = True) -> set[str]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    return {imp.split(".")[0] for imp in _imports(files[name], name, in_functions)}


def _loads_heavy(core: str) -> set[tuple[str, str]]:
    """(module, heavy library) pairs loaded by ``import core`` (its packages run first)."""
    graph = _graph(in_functions=False)
    parts = core.split(".")
    reached: set[str] = set()
    for i in range(1, len(parts) + 1):
        reached |= _reach(graph, ".".join(parts[:i]))
    return {(m, h) for m in reached for h in _external(m, in_functions=False) if h in HEAVY}


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(graph.get(n, ()))
    return seen


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    colour: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            # a package's __init__ importing its own submodules is not a cycle of layers
            if m.startswith(n + ".") or n.startswith(m + "."):
                continue
            if colour.get(m) == 1:
                return path[path.index(m) :] + [m]
            if m not in colour:
                found = visit(m)
                if found:
                    return found
        colour[n] = 2
        path.pop()
        return None

    for n in sorted(graph):
        if n not in colour:
            found = visit(n)
            if found:
                return found
    return None


def test_graph_is_built_from_the_source() -> None:
    graph = _graph()
    assert "chipkit.keys" in graph and "chipkit.verifier" in graph["chipkit.keys"]
    assert "chipkit.bundle" in graph["chipkit.verifier"]


def test_no_import_cycle() -> None:
    assert _find_cycle(_graph()) is None


def test_trust_layer_has_a_direction() -> None:
    graph = _graph()
    for i, name in enumerate(TRUST_LAYERS):
        upper = set(TRUST_LAYERS[i + 1 :]) | {"chipkit.scan", "chipkit.plates", "chipkit.cases"}
        bad = {
            m
            for m in graph[name]
            if any(m == u or m.startswith(u + ".") for u in upper)
            and (name, m) not in ALLOWED_UPWARD
        }
        assert not bad, f"{name} imports the layer(s) above it: {sorted(bad)}"


def test_library_never_imports_click() -> None:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    offenders = sorted(n for n in files if "click" in _external(n))
    assert not offenders, f"the library imports click in {offenders}"


@pytest.mark.parametrize("core", ["chipkit.token", "chipkit.base45"])
def test_pure_core_imports_nothing_heavy(core: str) -> None:
    heavy = _loads_heavy(core)
    assert not heavy, f"import {core} loads {sorted(heavy)}"


@pytest.mark.parametrize("core", ["chipkit.snowflake.encoder", "chipkit.snowflake.layout"])
def test_snowflake_core_imports_nothing_heavy(core: str) -> None:
    heavy = _loads_heavy(core)
    assert not heavy, f"import {core} loads {sorted(heavy)}"


def test_pure_core_is_pure() -> None:
    assert set(PURE_CORE) <= set(_graph())
