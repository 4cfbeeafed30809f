"""Run venvstacks through its command line.

venvstacks is started as ``<python> -m venvstacks``: its console script, started by an
interpreter named ``python3.11``, looks for ``bin/python.11`` and fails.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

from srcstacks.tools.process import run_logged, tool_env


def version() -> str:
    """The installed venvstacks' version."""
    return metadata.version("venvstacks")


def uv_version() -> str:
    """The version of uv that venvstacks runs (the ``uv`` package of this environment)."""
    return metadata.version("uv")


_CONFIGURED = re.compile(r"^Virtual environment configured in '.*/(?P<layer>[^/']+)'")


def progress_filter(report: Callable[[str], None]) -> Callable[[str], None]:
    """Turn venvstacks' chatty output into one line per layer environment built."""
    archiving = False

    def watch(line: str) -> None:
        nonlocal archiving
        if match := _CONFIGURED.match(line):
            report(f"  environment ready: {match['layer']}")
        elif line.startswith("Archiving:") and not archiving:
            archiving = True
            report("  compressing archives (xz)")

    return watch


def _index_args(wheel_dir: Path) -> list[str]:
    # --no-index plus our wheel dir: nothing from a public index can be locked or installed.
    return ["--no-index", "--local-wheels", str(wheel_dir)]


def lock(
    spec: Path,
    *,
    build_dir: Path,
    wheel_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """``venvstacks lock``; returns its output."""
    command = [
        sys.executable, "-m", "venvstacks", "lock", str(spec),
        "--build-dir", str(build_dir), *_index_args(wheel_dir),
    ]  # fmt: skip
    return run_logged(
        command, log_path=log_path, what="venvstacks lock", env=tool_env(env), on_line=on_line
    )


def build(
    spec: Path,
    *,
    build_dir: Path,
    wheel_dir: Path,
    output_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """``venvstacks build --publish`` from the existing locks; returns its output."""
    command = [
        sys.executable, "-m", "venvstacks", "build", str(spec),
        "--build-dir", str(build_dir), "--output-dir", str(output_dir), "--publish",
        *_index_args(wheel_dir),
    ]  # fmt: skip
    return run_logged(
        command, log_path=log_path, what="venvstacks build", env=tool_env(env), on_line=on_line
    )
