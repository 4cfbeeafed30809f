"""``srcstacks audit``: a runtime layer's interpreter files against its file list."""

from __future__ import annotations

from pathlib import Path

from srcstacks.state.archive_reader import ArchiveContents
from srcstacks.verify.audit import runtime_file_problems

LISTED = {
    "bin/python3.11": "sha256=AAAA",
    "bin/python3": "symlink:python3.11",
    "lib/python3.11/os.py": "sha256=BBBB",
}


def archive(members: dict[str, str]) -> ArchiveContents:
    return ArchiveContents(Path("cpython-3.11.tar.xz"), "0" * 64, (), {}, members=members)


def test_an_archive_holding_every_listed_file_as_listed_passes() -> None:
    members = {f"cpython-3.11/{path}": entry for path, entry in LISTED.items()}
    members["cpython-3.11/postinstall.py"] = "sha256=CCCC"  # venvstacks' own
    assert runtime_file_problems(archive(members), LISTED) == []


def test_a_replaced_or_missing_interpreter_file_is_named() -> None:
    members = {f"cpython-3.11/{path}": entry for path, entry in LISTED.items()}
    members["cpython-3.11/bin/python3.11"] = "sha256=EVIL"
    members["cpython-3.11/bin/python3"] = "symlink:/tmp/python"
    del members["cpython-3.11/lib/python3.11/os.py"]
    assert runtime_file_problems(archive(members), LISTED) == [
        "cpython-3.11/bin/python3 differs from the interpreter's file list",
        "cpython-3.11/bin/python3.11 differs from the interpreter's file list",
        "cpython-3.11/lib/python3.11/os.py of the interpreter's file list is missing",
    ]


def test_past_ten_problems_the_rest_are_counted() -> None:
    listed = {f"lib/m{number:02}.py": "sha256=X" for number in range(25)}
    problems = runtime_file_problems(archive({"cpython-3.11/": "dir"}), listed)
    assert len(problems) == 11
    assert problems[-1] == "and 15 more file(s) of the list"
