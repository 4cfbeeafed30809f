"""srcstacks' modules import each other without cycles, and never upward (issue 22).

Reads every module's top-level imports (``if TYPE_CHECKING:`` blocks included; imports
inside functions are left out: they run late, on purpose, to keep start-up light) and
looks for a cycle in the graph they make. Then, with the imports inside functions too,
checks that each package (and each module at the package root) imports only from those
below it in :data:`LAYERS`, the order docs/pipeline.md draws.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "srcstacks"

# Lowest first: a part may import from the parts before it, never from one after it.
# Root modules everything uses, then the spec and the state files, the wrappers around
# external tools, then the stages' packages, and the entry points last.
LAYERS = (
    "errors", "reporting", "live_output", "web", "layout", "fsutil",
    "spec", "state", "tools", "worklock", "attest", "runtime", "index", "run_context",
    "stage_inputs", "sbom", "build", "publish", "lock", "archives", "clean", "deploy",
    "verify", "stages", "pipeline", "report", "cli", "__main__",
)  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    """The package a module belongs to, or the module itself at the package root."""
    return module.split(".")[1] if "." in module else module


def _every_import(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):  # if TYPE_CHECKING: ...
            found.extend(n for n in node.body if isinstance(n, ast.Import | ast.ImportFrom))
    return found


def import_graph(*, top_level_only: bool = True) -> dict[str, set[str]]:
    """Each srcstacks module and the srcstacks modules it imports (at its top level, or
    anywhere with ``top_level_only=False``)."""
    paths = sorted((SRC / PACKAGE).rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        name = _module_name(path)
        targets: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _top_level_imports(tree) if top_level_only else _every_import(tree):
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


def test_every_part_has_its_place_in_the_layers() -> None:
    parts = {_part(module) for module in import_graph()} - {PACKAGE}
    assert sorted(parts - set(LAYERS)) == [], "place these in LAYERS"
    assert sorted(set(LAYERS) - parts) == [], "these parts are gone: drop them from LAYERS"


def test_no_part_imports_from_a_part_above_it() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph(top_level_only=False).items()
        for target in targets
        if _part(target) != PACKAGE and LAYERS.index(_part(target)) > LAYERS.index(_part(module))
    )
    assert upward == [], "imports that run upward:\n" + "\n".join(upward)
