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
