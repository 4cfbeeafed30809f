"""numpy from source against Debian's OpenBLAS, with the build settings srcstacks ships.

Writes a stack (this machine's CPython packed as the runtime, a framework with numpy,
an application doing linear algebra) whose settings folder is a copy of
``docs/build-settings/``, and in a fresh folder (``--no-index``: the wheel dir alone):

1. ``srcstacks build``, cold: numpy and every build tool from source (meson,
   meson-python, pyproject-metadata, Cython, ...);
2. ``srcstacks deploy --run``: the application prints the BLAS numpy's ``show_config``
   names and solves a linear system;
3. reads what was recorded: the slowest builds (``run-summary.json``), what the parity
   check said of numpy against PyPI's binary (``parity.json``), and the Debian packages
   numpy's build used (its provenance).

Needs ``libopenblas-dev``, ``pkg-config`` and ``ninja-build`` (docs/build-settings/numpy.yaml
says why). Prints the times and the load before and after. A benchmark, not a test: the
suite never builds numpy.

    python -m uv run python benchmarks/numpy_openblas.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = platform.python_version()
NUMPY = "2.2.6"

SPEC = f"""\
[[runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@{PYTHON}"
requirements = []
platforms = ["linux_x86_64"]

[[frameworks]]
name = "science"
runtime = "cpython-3.11"
requirements = ["numpy=={NUMPY}"]

[[applications]]
name = "linalg"
launch_module = "launch_modules/linalg.py"
frameworks = ["science"]
requirements = []

[tool.srcstacks]
settings_dir = "build-settings"

[tool.srcstacks.runtime]
source = "pack"
"""

LINALG = """\
import numpy

config = numpy.show_config(mode="dicts")["Build Dependencies"]
for name in ("blas", "lapack"):
    print(f"numpy {name}:", config[name]["name"], config[name].get("version", ""))
matrix = numpy.random.default_rng(0).random((200, 200)) + 200 * numpy.eye(200)
solution = numpy.linalg.solve(matrix, numpy.ones(200))
print("numpy solve ok:", bool(numpy.allclose(matrix @ solution, 1.0)))
"""


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def srcstacks(*args: str, cwd: Path) -> tuple[float, str]:
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "srcstacks", *args], cwd=cwd,
                            capture_output=True, text=True)  # fmt: skip
    elapsed = time.monotonic() - began
    if result.returncode != 0:
        sys.exit(f"srcstacks {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout + result.stderr


def write_stack(folder: Path) -> Path:
    (folder / "launch_modules").mkdir(parents=True)
    (folder / "launch_modules" / "linalg.py").write_text(LINALG)
    shutil.copytree(REPO / "docs" / "build-settings", folder / "build-settings")
    spec = folder / "venvstacks.toml"
    spec.write_text(SPEC)
    return spec


def report_records(folder: Path) -> None:
    variant = folder / "_srcstacks" / "cpu"
    summary = json.loads((variant / "run-summary.json").read_text())
    timed = sorted(
        (entry for entry in summary["entries"] if entry.get("seconds") is not None),
        key=lambda entry: -entry["seconds"],
    )
    print(f"{len(summary['entries'])} wheels built; the slowest:")
    for entry in timed[:6]:
        print(f"  {entry['project']} {entry['version']}: {entry['seconds']:.0f} s")
    parity = json.loads((variant / "parity.json").read_text())["wheels"]
    for finding in parity:
        if finding["project"] == "numpy":
            lacks = finding["missing"] or "nothing"
            differs = finding.get("differs") or "nothing"
            print(f"parity with {finding['upstream'] or '-'}: lacks {lacks}; differs: {differs}")
    records = json.loads((variant / "wheels" / "provenance.json").read_text())["wheels"]
    for record in records.values():
        if record["project"] == "numpy":
            packages = record.get("build_environment", {}).get("system_packages", [])
            named = ", ".join(f"{p['name']} {p['version']} ({'/'.join(p['roles'])})"
                              for p in packages)  # fmt: skip
            print(f"numpy's build used: {named}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    options = parser.parse_args()
    scratch = options.keep or Path(tempfile.mkdtemp(prefix="srcstacks-numpy-bench-"))
    folder = scratch / "stack"
    spec = write_stack(folder)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {PYTHON};"
          f" load before: {load()}")  # fmt: skip
    took, _ = srcstacks("build", "--no-index", str(spec), cwd=folder)
    print(f"cold build: {took / 60:.1f} min (load after: {load()})")
    _, output = srcstacks("deploy", str(spec), "--target", str(scratch / "deployed"),
                          "--run", cwd=folder)  # fmt: skip
    print("the deployed app said:")
    for line in output.splitlines():
        if line.startswith("numpy"):
            print(f"  {line}")
    report_records(folder)
    if options.keep is None:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
