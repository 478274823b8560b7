"""Imports inside the package only point down: no module imports, at load time, a module
that imports it back (directly or through others).

The graph is built from the source, not by importing: the imports a module runs when it is
loaded (its module-level statements, including ``try`` and ordinary ``if`` blocks), leaving out
``if TYPE_CHECKING:`` blocks and imports inside functions, which run later.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

import heymarket_async

PACKAGE: Final = "heymarket_async"
ROOT: Final = Path(heymarket_async.__file__).parent

# Cycles known and still to be broken, each as the set of its modules. Keep this empty: a
# cycle listed here is exempt from the test.
KNOWN_CYCLES: Final[tuple[frozenset[str], ...]] = ()


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for file in sorted(root.rglob("*.py")):
        parts = [package, *file.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = file
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _load_time_imports(body: Iterable[ast.stmt]) -> Iterable[ast.Import | ast.ImportFrom]:
    """The import statements run when the module loads (no functions, no TYPE_CHECKING)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _load_time_imports(node.body)
            yield from _load_time_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _load_time_imports(block)
            for handler in node.handlers:
                yield from _load_time_imports(handler.body)
        elif isinstance(node, ast.With | ast.ClassDef):  # a class body runs at load time
            yield from _load_time_imports(node.body)


def imported_modules(
    source: str, module: str, *, is_package: bool, known: Iterable[str]
) -> set[str]:
    """The package's modules that ``module`` imports when it loads."""
    known = set(known)
    here = module if is_package else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in _load_time_imports(ast.parse(source).body):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = here.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            # ``from pkg import sub`` loads the submodule; any other name needs pkg loaded.
            submodule = f"{base}.{alias.name}"
            targets.add(submodule if submodule in known else base)
    return {target for target in targets if target in known and target != module}


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    modules = module_names(root, package)
    return {
        name: imported_modules(
            file.read_text(encoding="utf-8"),
            name,
            is_package=file.name == "__init__.py",
            known=modules,
        )
        for name, file in modules.items()
    }


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one, as a path a -> ... -> a."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan; the package is small enough for recursion
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
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_a_cycle_within(graph, component) for component in components]


def _a_cycle_within(graph: Mapping[str, Iterable[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(graph.get(node, ())):
                if target == start:
                    return [*paths[node], start]
                if target in component and target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a component has one


def test_the_package_has_no_import_cycle() -> None:
    """No module of heymarket_async is part of an import cycle at load time."""
    cycles = [
        cycle
        for cycle in find_cycles(import_graph(ROOT, PACKAGE))
        if not any(set(cycle) <= known for known in KNOWN_CYCLES)
    ]
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_known_cycles_are_still_there() -> None:
    """A listed cycle that was broken must leave the list, so that it stays broken."""
    found = [set(cycle) for cycle in find_cycles(import_graph(ROOT, PACKAGE))]
    for known in KNOWN_CYCLES:
        assert any(cycle <= known for cycle in found), f"no longer a cycle: {sorted(known)}"


def test_cycles_are_found_and_shown() -> None:
    """The finder reports a cycle as a path, and only real ones."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_only_imports_run_at_load_time_count() -> None:
    """TYPE_CHECKING blocks and imports inside functions are no edges; relative ones resolve."""
    source = """
from typing import TYPE_CHECKING
from . import errors
from .._config import Timeouts
from .sub import thing
from .. import VALUE
import pkg.other
try:
    from .guarded import x
except ImportError:
    pass
if TYPE_CHECKING:
    from .typing_only import T
def later():
    from .lazy import y
class Kind:
    from .in_class import z
"""
    known = {
        "pkg",
        "pkg._config",
        "pkg.mod.errors",
        "pkg.mod",
        "pkg.mod.sub",
        "pkg.other",
        "pkg.mod.guarded",
        "pkg.mod.typing_only",
        "pkg.mod.lazy",
        "pkg.mod.in_class",
    }
    found = imported_modules(source, "pkg.mod.leaf", is_package=False, known=known)
    assert found == {
        "pkg",  # VALUE comes from the package itself
        "pkg._config",
        "pkg.mod.errors",
        "pkg.mod.sub",
        "pkg.other",
        "pkg.mod.guarded",
        "pkg.mod.in_class",
    }
