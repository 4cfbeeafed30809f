"""Every test docs/guarantees.md cites for a promise exists (issue 22).

Reads the table's last column: each backticked ``path.py`` is a file under ``tests/``
(or, named from the repository's root, ``benchmarks/``), and each ``path.py::name``
(or ``::name``, after the last path named in that cell) is a test function defined in
that file. A test renamed or removed without its row fails here, naming the citation.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
GUARANTEES = TESTS.parent / "docs" / "guarantees.md"
_CITATION = re.compile(r"`((?:[\w/]+\.py)?(?:::[\w\[\]-]+)?)`")


def _test_cells() -> list[str]:
    cells = []
    for line in GUARANTEES.read_text(encoding="utf-8").splitlines():
        parts = [part.strip() for part in line.split(" | ")]
        if line.startswith("| ") and len(parts) >= 3 and not set(parts[-1]) <= set("-|"):
            cells.append(parts[-1].rstrip(" |"))
    return cells[1:]  # the header row


def citations() -> list[tuple[str, str | None]]:
    """``(test file, test name or None)`` for every citation of the table."""
    found: list[tuple[str, str | None]] = []
    for cell in _test_cells():
        current = None
        for cited in _CITATION.findall(cell):
            path, _, name = cited.partition("::")
            if path.endswith(".py"):
                current = path
            if current is None or not (path or name):
                continue
            found.append((current, name.split("[")[0] or None))
    return found


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_the_table_is_read() -> None:
    found = citations()
    assert len(found) > 100
    assert ("e2e/test_rust.py", "test_the_compiled_module_holds_no_path_of_this_machine") in found


def test_every_cited_test_exists() -> None:
    missing = []
    for path, name in sorted(set(citations()), key=str):
        file = TESTS / path if (TESTS / path).is_file() else TESTS.parent / path
        if not file.is_file():
            missing.append(f"{path}: no such test file")
        elif name is not None and name not in _defined_tests(file):
            missing.append(f"{path}::{name}: no such test")
    assert missing == [], "docs/guarantees.md cites:\n" + "\n".join(missing)
