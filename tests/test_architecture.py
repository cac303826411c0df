"""The shape of the code: no import cycle anywhere, and no oversized file in core.

import-linter checks the layers (``pyproject.toml``); these tests check what its contracts cannot say. The graph
comes from grimp, which also counts imports made inside functions, so a cycle cannot hide behind a late import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

import dmtl_studio

PACKAGE = "dmtl_studio"
CORE = f"{PACKAGE}.core"
MAX_CORE_FILE_LINES = 400


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, cache_dir=None)


def strongly_connected_components(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so a deep graph cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    return [component for component in strongly_connected_components(edges) if len(component) > 1]


def module_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def child_package_edges(graph: grimp.ImportGraph, package: str) -> dict[str, set[str]]:
    """Imports between the direct children of ``package``, each child standing for everything below it."""
    depth = package.count(".") + 1

    def child(module: str) -> str | None:
        if not module.startswith(package + "."):
            return None
        return ".".join(module.split(".")[: depth + 1])

    edges: dict[str, set[str]] = {}
    for importer, imported in module_edges(graph).items():
        source = child(importer)
        if source is None:
            continue
        edges.setdefault(source, set())
        for module in imported:
            target = child(module)
            if target is not None and target != source:
                edges[source].add(target)
    return edges


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    lines = [" <-> ".join(component)]
    for importer in component:
        for imported in component:
            if importer == imported:
                continue
            for detail in graph.get_import_details(importer=importer, imported=imported):
                lines.append(f"    {detail['importer']}:{detail['line_number']} imports {detail['imported']}")
    return "\n".join(lines)


def describe_packages(graph: grimp.ImportGraph, component: list[str]) -> str:
    lines = [" <-> ".join(component)]
    for importer in component:
        for imported in component:
            if importer != imported and graph.direct_import_exists(
                importer=importer, imported=imported, as_packages=True
            ):
                chain = graph.find_shortest_chain(importer=importer, imported=imported, as_packages=True)
                lines.append("    " + " -> ".join(chain or (importer, imported)))
    return "\n".join(lines)


def test_cycle_finder_sees_a_cycle_and_nothing_else() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules(graph: grimp.ImportGraph) -> None:
    found = cycles(module_edges(graph))
    assert not found, "import cycles between modules:\n" + "\n".join(describe(graph, c) for c in found)


def test_no_import_cycle_between_packages_of_core(graph: grimp.ImportGraph) -> None:
    found = cycles(child_package_edges(graph, CORE))
    assert not found, "import cycles between core packages:\n" + "\n".join(
        describe_packages(graph, c) for c in found
    )


def test_no_import_cycle_between_top_level_parts(graph: grimp.ImportGraph) -> None:
    found = cycles(child_package_edges(graph, PACKAGE))
    assert not found, "import cycles between parts of the app:\n" + "\n".join(
        describe_packages(graph, c) for c in found
    )


def test_no_file_in_core_is_oversized() -> None:
    core = Path(dmtl_studio.__file__).parent / "core"
    sizes = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in sorted(core.rglob("*.py"))}
    assert sizes, "no source found under core"
    oversized = [
        f"{path.relative_to(core.parent)}: {lines} lines"
        for path, lines in sizes.items()
        if lines > MAX_CORE_FILE_LINES
    ]
    assert not oversized, f"files in core over {MAX_CORE_FILE_LINES} lines:\n" + "\n".join(oversized)
