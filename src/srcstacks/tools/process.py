"""Run an external command with its output teed to a log file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from srcstacks.errors import ToolError


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a child tool: ours, with this interpreter's scripts first on PATH.

    Fromager runs helper commands such as ``wheel`` by name, so the folder holding the
    scripts of the environment srcstacks runs in must be on PATH even when nobody
    activated it.
    """
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")])
    if extra:
        env.update(extra)
    return env


def run_logged(
    command: Sequence[str],
    *,
    log_path: Path,
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Run ``command``, writing its combined output to ``log_path``; return that output.

    ``on_line`` sees each line as it arrives (for progress). A non-zero exit raises
    :class:`ToolError` naming ``what`` failed and the log to read.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    with log_path.open("w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        try:
            process = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=dict(env) if env is not None else tool_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise ToolError(f"{what}: cannot start {command[0]!r}: {exc}") from exc
        assert process.stdout is not None
        with process:
            for line in process.stdout:
                log.write(line)
                log.flush()
                lines.append(line)
                if on_line is not None:
                    on_line(line.rstrip("\n"))
        if process.returncode != 0:
            reason = last_error_line(lines) or f"exit code {process.returncode}"
            raise ToolError(f"{what} failed: {reason}", str(log_path))
    return "".join(lines)


_ERROR_MARKERS = ("error:", "Error:", "ERROR", "Exception:", "failed")


def last_error_line(lines: Sequence[str]) -> str:
    """The last line of a tool's output that reads like an error message, shortened."""
    for line in reversed(lines):
        text = " ".join(line.split())
        if any(marker in text for marker in _ERROR_MARKERS):
            return text if len(text) <= 300 else text[:297] + "..."
    return ""
