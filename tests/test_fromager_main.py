"""srcstacks' Fromager entry point writes the requirements files it puts in wheels sorted."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.version import Version

from srcstacks.tools.fromager import FROMAGER_MODULE

SCRIPT = """
import sys
from pathlib import Path
from packaging.requirements import Requirement
import {module} as _started  # noqa: F401  (installs the fix, as `-m` does)
from fromager import dependencies

requirements = {{Requirement(text) for text in sys.argv[2:]}}
dependencies._write_requirements_file(requirements, Path(sys.argv[1]))
"""

REQUIREMENTS = ["setuptools>=61", "wheel", "Cython>=3.0", "hatch-vcs", "hatchling>=1.18"]


def _write(tmp_path: Path, module: str, seed: str) -> str:
    target = tmp_path / f"{module}-{seed}.txt"
    script = SCRIPT.format(module=module)
    env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script, str(target), *REQUIREMENTS], check=True, env=env)
    return target.read_text()


def test_requirements_files_come_out_sorted_whatever_the_hash_seed(tmp_path: Path) -> None:
    written = {_write(tmp_path, FROMAGER_MODULE, seed) for seed in ("1", "2", "3", "4")}
    assert written == {"".join(f"{line}\n" for line in sorted(REQUIREMENTS, key=str))}


def test_fromager_alone_sorts_them_only_after_0_77(tmp_path: Path) -> None:
    # The negative control: without the wrapper, Fromager 0.77 (the release for Python
    # 3.11) follows the hash seed; later releases (0.101 on 3.12+) sort them themselves.
    written = {_write(tmp_path, "fromager", seed) for seed in ("1", "2", "3", "4", "5", "6")}
    if Version(metadata.version("fromager")) <= Version("0.77.0"):
        assert len(written) > 1
    else:
        assert written == {"".join(f"{line}\n" for line in sorted(REQUIREMENTS, key=str))}


def test_the_wrapper_runs_fromager() -> None:
    result = subprocess.run(
        [sys.executable, "-m", FROMAGER_MODULE, "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "bootstrap" in result.stdout and "build-parallel" in result.stdout


APPLY = """
import sys
from pathlib import Path
from packaging.requirements import Requirement
import {module} as _started  # noqa: F401  (installs the wrappers, as `-m` does)
from fromager import sources

sources._apply_patch(Requirement("demo"), Path(sys.argv[1]), Path(sys.argv[2]))
"""
SOURCE = "".join(f"line {n}\n" for n in range(1, 12))
# Its first context line is not the source's ("line 2"): plain `patch` applies it anyway.
FUZZY = """--- a/module.txt
+++ b/module.txt
@@ -2,5 +2,5 @@
 line two
 line 3
-line 4
+line 4, patched
 line 5
 line 6
"""
# The same change with the right context, but written for a file with two more lines on top.
MOVED = FUZZY.replace(" line two\n", " line 2\n").replace("@@ -2,5 +2,5 @@", "@@ -4,5 +4,5 @@")


def _tree(tmp_path: Path, name: str) -> Path:
    tree = tmp_path / name
    tree.mkdir()
    (tree / "module.txt").write_text(SOURCE)
    return tree


def test_a_hunk_whose_context_does_not_match_fails_instead_of_applying_with_fuzz(
    tmp_path: Path,
) -> None:
    patch = tmp_path / "0001-fuzzy.patch"
    patch.write_text(FUZZY)
    script = APPLY.format(module=FROMAGER_MODULE)
    tree = _tree(tmp_path, "srcstacks")
    result = subprocess.run([sys.executable, "-c", script, str(patch), str(tree)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode != 0
    assert "Hunk #1 FAILED" in result.stdout + result.stderr
    assert (tree / "module.txt").read_text() == SOURCE, "nothing applied"
    assert not list(tree.glob("*.orig")), "no backup left beside the source"
    # Negative control: Fromager's own `patch -p1` applies it, "with fuzz 1".
    plain = _tree(tmp_path, "fromager")
    with patch.open() as stream:
        fuzzed = subprocess.run(["patch", "-p1"], stdin=stream, cwd=plain,
                                capture_output=True, text=True)  # fmt: skip
    assert fuzzed.returncode == 0 and "with fuzz 1" in fuzzed.stdout
    # A hunk whose context matches where the lines moved to still applies (an offset).
    patch.write_text(MOVED)
    subprocess.run([sys.executable, "-c", script, str(patch), str(tree)], check=True,
                   capture_output=True)  # fmt: skip
    assert "line 4, patched\n" in (tree / "module.txt").read_text()
