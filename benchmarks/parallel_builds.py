"""``srcstacks wheels --jobs 2`` against ``--jobs 1`` on independent C-extension packages.

Writes a stack of one application needing five independent C-extension projects
(regex, pycryptodome, brotli, bitarray, psutil: each a setuptools build compiling its
own C sources against nothing but the system's libc, several of them for tens of
seconds), builds its wheels cold in two fresh work dirs, with ``--jobs 1`` (one
``fromager bootstrap``) and ``--jobs 2`` (resolve, then srcstacks' scheduler running
two ``fromager build`` at a time, then the recording bootstrap), and prints both times
and their ratio side by side, each run's wheel counts and slowest builds, the load
before and after, and whether both runs gave byte-identical wheels.

    python -m uv run python benchmarks/parallel_builds.py [ROUNDS]

With ROUNDS, the pair runs that many times, alternating, and the best of each is
compared. Before each run it waits (up to 5 minutes) for a load average below 0.3.
The runtime is the Python running it (Fromager 0.101 under 3.12 or 3.13).

Both runs resolve the same graph and build the same build tool (setuptools) first:
only the packages that are not build tools are built in parallel. A benchmark, not a
test: the test suite does not run it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REQUIREMENTS = [
    "regex==2026.11.19",
    "pycryptodome==4.4.0",
    "brotli==1.2.1",
    "bitarray==3.12.3",
    "psutil==7.2.2",
]

# The runtime is the Python running the benchmark, so srcstacks' own Fromager builds
# (0.77 on 3.11; 0.101 on 3.12 and 3.13: `uv run --python 3.13 python benchmarks/...`).
SPEC = f"""\
[[runtimes]]
name = "cpython"
python_implementation = "cpython@{platform.python_version()}"
requirements = []
platforms = ["linux_x86_64"]

[[applications]]
name = "cext"
launch_module = "launch_modules/cext.py"
runtime = "cpython"
requirements = {json.dumps(REQUIREMENTS)}

[tool.srcstacks.runtime]
source = "pack"
"""


def write_stack(folder: Path) -> Path:
    (folder / "launch_modules").mkdir(parents=True)
    (folder / "launch_modules" / "cext.py").write_text("import regex\n")
    spec = folder / "venvstacks.toml"
    spec.write_text(SPEC)
    return spec


def build(spec: Path, jobs: int) -> tuple[float, dict[str, int], str]:
    began = time.time()
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
    if jobs > 1:
        slowest += "\n  " + phases(result.stderr, began, seconds)
    return seconds, summary["totals"], slowest


def phases(stderr: str, began: float, total: float) -> str:
    """Where a parallel run's time went, from the modification times of its logs."""
    line = next(ln for ln in stderr.splitlines() if ln.startswith("this run's logs: "))
    logs = Path(line.removeprefix("this run's logs: "))
    resolved = (logs / "fromager-resolve.log").stat().st_mtime - began
    built = (
        max(
            path.stat().st_mtime
            for path in (logs / "packages").glob("*.log")
            if not path.name.endswith(".build.log")
        )
        - began
    )
    return (
        f"phases: resolve {resolved:.0f} s, parallel builds {built - resolved:.0f} s,"
        f" recording bootstrap and checks {total - built:.0f} s"
    )


def quiet_load(below: float = 0.3, longest: float = 300.0) -> str:
    """Wait (up to ``longest`` seconds) for the 1-minute load average to fall below
    ``below``, as the figures in docs/performance.md ask; the load reached."""
    deadline = time.monotonic() + longest
    while os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def wheel_hashes(spec: Path) -> dict[str, str]:
    downloads = spec.parent / "_srcstacks" / "cpu" / "fromager" / "wheels-repo" / "downloads"
    return {
        wheel.name: hashlib.sha256(wheel.read_bytes()).hexdigest()
        for wheel in sorted(downloads.glob("*.whl"))
    }


def main() -> None:
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    cpus = len(os.sched_getaffinity(0))
    from importlib import metadata

    fromager = metadata.version("fromager")
    print(f"machine: {cpus} CPUs, {platform.machine()}, load {load}")
    print(f"Python {platform.python_version()}, Fromager {fromager}")
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with tempfile.TemporaryDirectory(prefix="srcstacks-jobs-") as scratch:
        times: dict[int, list[float]] = {1: [], 2: []}
        hashes: dict[int, dict[str, str]] = {}  # the first round's wheels of each
        for round_ in range(1, rounds + 1):
            # Alternating which goes first, so neither always runs on the warmer machine.
            for jobs in (1, 2) if round_ % 2 else (2, 1):
                spec = write_stack(Path(scratch) / f"round-{round_}" / f"jobs-{jobs}")
                before = quiet_load()
                seconds, totals, slowest = build(spec, jobs)
                times[jobs].append(seconds)
                if jobs not in hashes:
                    hashes[jobs] = wheel_hashes(spec)
                print(f"round {round_} --jobs {jobs}: {seconds:6.1f} s (load before {before})"
                      f"  {totals}")  # fmt: skip
                print(f"  slowest builds:{slowest.rstrip()}")
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"load after: {load}")
        best = {jobs: min(values) for jobs, values in times.items()}
        print(f"best of {rounds}: --jobs 1 {best[1]:.1f} s, --jobs 2 {best[2]:.1f} s")
        print(f"ratio --jobs 2 / --jobs 1: {best[2] / best[1]:.2f}")
        same = hashes[1] == hashes[2]
        print(f"wheels byte-identical: {'yes' if same else 'NO'} ({len(hashes[1])} wheels)")
        differ = sorted(
            n for n in hashes[1].keys() | hashes[2].keys() if hashes[1].get(n) != hashes[2].get(n)
        )
        if differ:
            print(f"  differing: {', '.join(differ)}")
            keep = os.environ.get("SRCSTACKS_BENCH_KEEP")
            if keep:
                import shutil

                for jobs in (1, 2):
                    stack = Path(scratch) / "round-1" / f"jobs-{jobs}"
                    downloads = stack / "_srcstacks" / "cpu" / "fromager"
                    shutil.copytree(
                        downloads / "wheels-repo" / "downloads", Path(keep) / f"jobs-{jobs}"
                    )


if __name__ == "__main__":
    main()
