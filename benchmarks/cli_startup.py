"""CLI start-up: `srcstacks --version` as shipped, against importing every command's code.

Before issue 8 the CLI imported every stage (and the CycloneDX validator) at start-up,
so every command, `--help` and `--version` included, paid for all of them. The second
figure measures that cost in the same run, by importing those modules up front.

    python -m uv run python benchmarks/cli_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 7
EAGER = (
    "import srcstacks.pipeline, srcstacks.verify.stage, srcstacks.verify.rebuild,"
    " srcstacks.deploy.stage, srcstacks.cli.listing, srcstacks.sbom.check,"
    " cyclonedx.validation.json; import srcstacks.cli"
)


def timed(command: list[str]) -> float:
    """Median wall-clock seconds of ``command`` over :data:`RUNS` runs."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    lazy = timed([sys.executable, "-m", "srcstacks", "--version"])
    eager = timed([sys.executable, "-c", EAGER])
    print(f"srcstacks --version (commands imported lazily): {lazy:.2f} s")
    print(f"importing every command's modules up front:    {eager:.2f} s")
    print(f"ratio lazy / eager: {lazy / eager:.2f}")


if __name__ == "__main__":
    main()
