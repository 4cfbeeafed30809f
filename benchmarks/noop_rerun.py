"""No-op and one-patch reruns against a cold build of the demo, measured in one run.

Copies the demo stack into a fresh folder and times, with ``--no-index`` (the wheel dir
alone, so no devpi port is needed): a cold ``srcstacks build``; the same command again
with nothing changed (every stage skipped as up to date); and again after the
markupsafe patch's pure-Python replacement string changed (markupsafe rebuilt; the
framework's lock, archive and SBOM, and the SBOM of the app linking to it, made again).
Prints each time and its ratio to cold. ``benchmarks/overhead.py`` measures these and
srcstacks against the raw tools in one run.

    python -m uv run python benchmarks/noop_rerun.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = ("venvstacks.toml", "launch_modules", "build-settings", "patches")


def timed(spec: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "srcstacks", "build", str(spec), "--no-index"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        stack = Path(scratch) / "stack"
        stack.mkdir()
        for name in DEMO:
            source = REPO / name
            copy = shutil.copytree if source.is_dir() else shutil.copy2
            copy(source, stack / name)
        spec = stack / "venvstacks.toml"
        cold = timed(spec)
        noop = timed(spec)
        patch = next((stack / "patches" / "markupsafe").glob("*.patch"))
        patch.write_text(patch.read_text().replace('"&apos;")', '"&#x27;")', 1))
        one_patch = timed(spec)
    print(f"cold build            {cold:7.2f} s")
    print(f"no-op rerun           {noop:7.2f} s   {noop / cold:6.1%} of cold (goal <= 5%)")
    print(f"one patch changed     {one_patch:7.2f} s   {one_patch / cold:6.1%} of cold")


if __name__ == "__main__":
    main()
