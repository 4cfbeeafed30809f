"""The private index as a shared build cache: a cold build against a second machine's.

Starts a managed devpi index on a free loopback port, builds the demo stack with it
in one fresh work dir (every wheel built and uploaded), then in a second fresh work dir
(standing in for a second machine: every wheel fetched from the index and checked
against its provenance there), and prints both times side by side; then the same for
the wheels stage alone (built with no index, against fetched).

    python -m uv run python benchmarks/index_cache.py
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from srcstacks.index.managed import managed_index

REPO = Path(__file__).resolve().parent.parent
DEMO = ("venvstacks.toml", "launch_modules", "build-settings", "patches", "requirements")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed(*args: str | Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "srcstacks", *map(str, args)],
        check=True,
        capture_output=True,
        env={**os.environ, **env},
    )
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        stack = root / "stack"
        stack.mkdir()
        for name in DEMO:
            source = REPO / name
            copy = shutil.copytree if source.is_dir() else shutil.copy2
            copy(source, stack / name)
        with managed_index(
            root / "index", port=free_port(), index_name="cpu", report=lambda _: None
        ) as index:
            env = {"SRCSTACKS_INDEX_USER": index.user, "SRCSTACKS_INDEX_PASSWORD": index.password}
            index_options = ("--index", index.base_url)

            def run(command: str, work: str, *options: str) -> float:
                return timed(command, stack, *options, "--work-dir", root / work, env=env)

            cold_total = run("build", "first", *index_options)  # builds and uploads
            warm_total = run("build", "second", *index_options)  # fetches everything
            cold_wheels = run("wheels", "third", "--no-index")  # builds, no index at all
            warm_wheels = run("wheels", "fourth", *index_options)
    print(f"wheels stage, built here:             {cold_wheels:6.1f} s")
    print(f"wheels stage, fetched from the index: {warm_wheels:6.1f} s")
    print(f"ratio fetched / built (wheels):       {warm_wheels / cold_wheels:6.2f}")
    print(f"whole build, first machine:           {cold_total:6.1f} s")
    print(f"whole build, second machine:          {warm_total:6.1f} s")
    print(f"ratio second / first (whole build):   {warm_total / cold_total:6.2f}")


if __name__ == "__main__":
    main()
