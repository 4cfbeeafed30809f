"""``srcstacks wheels --jobs 2`` against ``--jobs 1`` on independent C-extension packages.

Writes a stack of one application needing five independent C-extension projects
(markupsafe, simplejson, wrapt, psutil, bitarray: each a setuptools build with its own C
sources, no Cython), builds its wheels cold in two fresh work dirs, with ``--jobs 1``
(``fromager bootstrap``) and ``--jobs 2`` (``fromager bootstrap-parallel -m 2``), and
prints both times and their ratio side by side, with each run's wheel counts.

    python -m uv run python benchmarks/parallel_builds.py

Both runs resolve the same graph and build the same build tools (setuptools, ...) one
after another first: only the packages that are not build tools are built in parallel.
A benchmark, not a test: the test suite does not run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REQUIREMENTS = [
    "markupsafe==3.0.4",
    "simplejson==4.3.0",
    "wrapt==2.5.2",
    "psutil==7.2.2",
    "bitarray==3.12.3",
]

SPEC = f"""\
[[runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@3.11.7"
requirements = []
platforms = ["linux_x86_64"]

[[applications]]
name = "cext"
launch_module = "launch_modules/cext.py"
runtime = "cpython-3.11"
requirements = {json.dumps(REQUIREMENTS)}

[tool.srcstacks.runtime]
source = "pack"
"""


def write_stack(folder: Path) -> Path:
    (folder / "launch_modules").mkdir(parents=True)
    (folder / "launch_modules" / "cext.py").write_text("import markupsafe\n")
    spec = folder / "venvstacks.toml"
    spec.write_text(SPEC)
    return spec


def build(spec: Path, jobs: int) -> tuple[float, dict[str, int], str]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "srcstacks", "wheels", str(spec), "--jobs", str(jobs)],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"--jobs {jobs} failed:\n{result.stderr}")
    summary = json.loads((spec.parent / "_srcstacks" / "cpu" / "run-summary.json").read_text())
    slowest = result.stderr.split("slowest builds:", 1)[-1].split("checking", 1)[0]
    return seconds, summary["totals"], slowest


def main() -> None:
    print(f"machine: {len(os.sched_getaffinity(0))} CPUs, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="srcstacks-jobs-") as scratch:
        times: dict[int, float] = {}
        for jobs in (1, 2):
            spec = write_stack(Path(scratch) / f"jobs-{jobs}")
            seconds, totals, slowest = build(spec, jobs)
            times[jobs] = seconds
            print(f"--jobs {jobs}: {seconds:6.1f} s  {totals}")
            print(f"  slowest builds:{slowest.rstrip()}")
    print(f"ratio --jobs 2 / --jobs 1: {times[2] / times[1]:.2f}")


if __name__ == "__main__":
    main()
