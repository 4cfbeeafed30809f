"""``Layout`` is the only code that joins names onto srcstacks' folders (issue 22).

Reads every module of srcstacks outside ``srcstacks/layout/`` and looks for a path join
(``/`` or ``.joinpath``) whose left side is one of the folders the layout owns: an
attribute named like a :class:`Layout` or :class:`FromagerDirs` path (``layout.index_state
/ "devpi"``, ``dirs.built_wheels / name``) or the work, wheel and output dirs themselves,
as attributes or local names (``config.wheel_dir / name``, ``work_dir / ".lock"``). Such
a join belongs in the layout, where a name read from a file goes through ``inside``.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs

SRC = Path(__file__).resolve().parent.parent / "src" / "srcstacks"
LAYOUT_PACKAGE = SRC / "layout"
ROOTS = frozenset({"work_dir", "wheel_dir", "output_dir"})


def _owned_names() -> frozenset[str]:
    """The names of every folder or file the layout derives, and the three roots."""
    properties = {
        name
        for cls in (Layout, FromagerDirs)
        for name, member in inspect.getmembers(cls)
        if isinstance(member, property)
    }
    return frozenset(properties | ROOTS)


def _left_end(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        node = node.left
    return node


def _is_owned_folder(node: ast.expr, owned: frozenset[str]) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in owned
    return isinstance(node, ast.Name) and node.id in ROOTS


def joins_onto_owned_folders(path: Path) -> list[str]:
    """``line: code`` of each join in ``path`` onto a folder the layout owns."""
    owned = _owned_names()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = _left_end(node.left)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "joinpath"
        ):
            left = _left_end(node.func.value)
        else:
            continue
        if _is_owned_folder(left, owned):
            found.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_detector_finds_the_layouts_own_joins() -> None:
    # The layout itself joins: a detector that finds nothing there finds nothing anywhere.
    found = joins_onto_owned_folders(LAYOUT_PACKAGE / "__init__.py")
    assert any("self.variant_dir / " in line for line in found)
    assert any("self.output_dir / " in line for line in found)
    assert joins_onto_owned_folders(LAYOUT_PACKAGE / "fromager.py")


def test_no_module_outside_the_layout_joins_onto_its_folders() -> None:
    found = [
        line
        for path in sorted(SRC.rglob("*.py"))
        if LAYOUT_PACKAGE not in path.parents
        for line in joins_onto_owned_folders(path)
    ]
    assert found == [], "joins to move into srcstacks/layout/:\n" + "\n".join(found)
