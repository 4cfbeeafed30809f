"""srcstacks' modules import each other without cycles (issue 22).

Reads every module's top-level imports (``if TYPE_CHECKING:`` blocks included; imports
inside functions are left out: they run late, on purpose, to keep start-up light) and
looks for a cycle in the graph they make.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "srcstacks"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):  # if TYPE_CHECKING: ...
            found.extend(n for n in node.body if isinstance(n, ast.Import | ast.ImportFrom))
    return found


def import_graph() -> dict[str, set[str]]:
    """Each srcstacks module and the srcstacks modules it imports at its top level."""
    paths = sorted((SRC / PACKAGE).rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        name = _module_name(path)
        targets: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name in modules)
            elif node.module and node.module.split(".")[0] == PACKAGE:
                for alias in node.names:  # `from pkg import module` names a module
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(submodule if submodule in modules else node.module)
        graph[name] = targets - {name}
    return graph


def test_the_graph_is_read() -> None:
    graph = import_graph()
    # Known edges, so an empty or broken reading cannot pass for "no cycles".
    assert "srcstacks.state.provenance" in graph["srcstacks.sbom.components"]
    assert "srcstacks.cli.common" in graph["srcstacks.cli.stages"]


def test_no_import_cycles() -> None:
    try:
        tuple(graphlib.TopologicalSorter(import_graph()).static_order())
    except graphlib.CycleError as error:
        cycle = " -> ".join(error.args[1])
        raise AssertionError(f"import cycle: {cycle}") from None
