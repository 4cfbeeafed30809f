"""venvstacks' own sample project, built from source: numpy, SciPy and scikit-learn.

Takes ``tests/sample_project`` (and the ``tests/minimal_project`` its support modules
reach into) from the sdist of the venvstacks version srcstacks is locked to, fetched from
PyPI and checked against PyPI's sha256, and builds it in a fresh folder with the private
index as cache (``--jobs 2`` by default). Changed, and only where this platform needs
it (each change is printed):

- the application ``scipy-client`` (macOS and Windows only: locking it needs SciPy's
  wheels for those platforms, which only their build hosts make) is left out, and
  ``dlltracer; sys_platform == 'win32'`` leaves the 3.11 runtime (Windows only, and
  the layer targets every platform: its lock needs a wheel only a Windows host builds);
- ``[tool.uv] environments`` is this platform: the other layers target linux_aarch64,
  macOS or Windows too, whose wheels only their build hosts make;
- the runtimes' ``python_implementation`` (``cpython@3.11.11``, ``cpython@3.12.9``) name
  this machine's CPython of the same X.Y, which srcstacks packs (python.org's builds are
  not reachable here, and srcstacks takes no binary runtime it did not build or pack);
- a ``[tool.srcstacks]`` table: the settings srcstacks ships for numpy and SciPy
  (``docs/build-settings/``, OpenBLAS from Debian), a managed private index;
- the upstream locks (``requirements/``, naming PyPI's binary wheels) are removed:
  srcstacks writes its own. The spec's ``[tool.uv] exclude-newer`` stays: the sources
  Fromager builds are those released by that date (the lock goes without it).

Then ``deploy --run`` (the Linux apps: ``scipy-import``, ``sklearn-import``), a
``scipy.linalg`` solve and a scikit-learn fit in the deployed apps, numpy's and SciPy's
BLAS as they report it, ``verify``; and from the records: the time per stage, the
slowest builds, the disk used, the Debian packages the compiled wheels used. The build
graphs Fromager wrote and the run summary (each package's duration) are kept in
``DIR/records/`` for ``benchmarks/build_makespan.py``.

Needs ``gfortran``, ``libopenblas-dev``, ``pkg-config``, ``ninja-build`` and ``cmake``
(docs/build-settings/ says why), CPython 3.11 and 3.12. Hours on 2 cores, cold; a rerun
with ``--keep`` on the same folder fetches from the kept index. A benchmark, not a test.

    python -m uv run python benchmarks/venvstacks_sample.py --keep DIR [--jobs N]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from importlib import metadata
from pathlib import Path

from srcstacks.tools.toolchain import find_interpreter

REPO = Path(__file__).resolve().parent.parent
THIS_PLATFORM = "sys_platform == 'linux' and platform_machine == 'x86_64'"
VENVSTACKS = metadata.version("venvstacks")
SRCSTACKS_TABLE = """
[tool.srcstacks]
settings_dir = "build-settings"
# This machine's CPython of each runtime's X.Y, packed (python-build-standalone's
# downloads are not reachable here, and srcstacks takes no binary it did not make).
[tool.srcstacks.runtime]
source = "pack"
# The index is the cache: a rerun of this benchmark fetches what the last one built.
[tool.srcstacks.index]
managed = true
# Who supplies the archives: every SBOM names them (NTIA's minimum elements, which
# verify checks).
[tool.srcstacks.sbom]
supplier = "srcstacks benchmarks"
manufacturer.name = "srcstacks benchmarks"
manufacturer.url = "https://srcstacks.example"
manufacturer.email = "sbom@srcstacks.example"
"""

CHECKS = {
    "scipy-import": (
        "import numpy, scipy, scipy.linalg\n"
        "for module in (numpy, scipy):\n"
        "    blas = module.show_config(mode='dicts')['Build Dependencies']['blas']\n"
        "    print(module.__name__, module.__version__, 'BLAS:', blas['name'],"
        " blas.get('version', ''))\n"
        "a = numpy.random.default_rng(0).random((300, 300)) + 300 * numpy.eye(300)\n"
        "x = scipy.linalg.solve(a, numpy.ones(300))\n"
        "print('scipy.linalg.solve ok:', bool(numpy.allclose(a @ x, 1.0)))\n"
    ),
    "sklearn-import": (
        "import numpy, sklearn\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "rng = numpy.random.default_rng(0)\n"
        "features = rng.normal(size=(400, 5))\n"
        "labels = (features @ numpy.arange(1, 6) > 0).astype(int)\n"
        "model = LogisticRegression().fit(features, labels)\n"
        "print('scikit-learn', sklearn.__version__, 'fit accuracy:',"
        " model.score(features, labels))\n"
    ),
}


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run(*args: str, cwd: Path, log: Path | None = None) -> tuple[float, str]:
    """Run ``srcstacks ARGS``; its output, streamed to ``log`` when given."""
    began = time.monotonic()
    command = [sys.executable, "-m", "srcstacks", *args]
    if log is None:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        output, code = result.stdout + result.stderr, result.returncode
    else:
        # Streamed, each stage header (``==> [2/5] publish-wheels``) stamped with the
        # minutes since the start, so the log says what each stage took.
        with log.open("w", encoding="utf-8") as stream:
            process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)  # fmt: skip
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("==> "):
                    line = f"{line.rstrip()} (at {(time.monotonic() - began) / 60:.1f} min)\n"
                stream.write(line)
                stream.flush()
            code = process.wait()
        output = log.read_text(encoding="utf-8")
    if code != 0:
        sys.exit(f"srcstacks {' '.join(args)} failed (load {load()}):\n{output[-4000:]}")
    return time.monotonic() - began, output


def fetch_sample(folder: Path) -> Path:
    """venvstacks' sdist from PyPI, sha256 checked; its sample and minimal projects."""
    request = urllib.request.Request(
        "https://pypi.org/simple/venvstacks/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request) as reply:
        files = json.load(reply)["files"]
    name = f"venvstacks-{VENVSTACKS}.tar.gz"
    sdist = next(entry for entry in files if entry["filename"] == name)
    with urllib.request.urlopen(sdist["url"]) as reply:
        data = reply.read()
    if hashlib.sha256(data).hexdigest() != sdist["hashes"]["sha256"]:
        sys.exit(f"{name}: sha256 differs from PyPI's")
    prefix = f"venvstacks-{VENVSTACKS}/tests/"
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = [
            member
            for member in archive.getmembers()
            if member.name.startswith((prefix + "sample_project/", prefix + "minimal_project/"))
        ]
        for member in members:
            member.name = member.name[len(prefix) :]
        archive.extractall(folder, members=members, filter="data")
    return folder / "sample_project"


def adapt(project: Path) -> Path:
    """The changes this platform needs, each printed."""
    spec = project / "venvstacks.toml"
    text = spec.read_text(encoding="utf-8")

    def local(match: re.Match[str]) -> str:
        minor = ".".join(match.group(1).split(".")[:2])
        interpreter = find_interpreter(minor)
        if interpreter is None:
            sys.exit(f"no CPython {minor} on this machine for the runtime {match.group(1)}")
        print(f"  runtime cpython@{match.group(1)} -> cpython@{interpreter.version} (packed)")
        return f'python_implementation = "cpython@{interpreter.version}"'

    text = re.sub(r'python_implementation = "cpython@([0-9.]+)"', local, text)
    # An application for macOS and Windows only: its lock needs SciPy's wheels for
    # those platforms, which only such build hosts make (srcstacks missing/collect).
    text, dropped = re.subn(
        r'\[\[applications\]\]\nname = "scipy-client".*?(?=\n\[\[applications\]\]|\n# )',
        "", text, flags=re.DOTALL,
    )  # fmt: skip
    if dropped:
        print("  - the application scipy-client (macOS and Windows only)")
    # Every other layer targets other platforms too (linux_aarch64, macOS, Windows):
    # locking them for those needs wheels only their build hosts make. Lock for this one.
    text = text.replace("[tool.uv]\n", f"[tool.uv]\nenvironments = [{THIS_PLATFORM!r}]\n", 1)
    print(f"  + [tool.uv] environments = [{THIS_PLATFORM!r}] (the locks cover this platform)")
    # A Windows-only debugging aid in a runtime layer that targets every platform:
    # locking it needs its win_amd64 wheel, which only a Windows build host makes.
    text, dropped = re.subn(r"\n *\"dlltracer; sys_platform == 'win32'\",", "", text)
    if dropped:
        print("  - \"dlltracer; sys_platform == 'win32'\" (Windows only; its wheel needs a"
              " Windows build host)")  # fmt: skip
    spec.write_text(text + SRCSTACKS_TABLE, encoding="utf-8")
    shutil.copytree(REPO / "docs" / "build-settings", project / "build-settings")
    shutil.rmtree(project / "requirements")
    print("  + [tool.srcstacks]: settings_dir (docs/build-settings), runtimes packed, a managed"
          " index")  # fmt: skip
    print("  - requirements/ (upstream's locks of PyPI's binary wheels)")
    return spec


def stage_times(output: str) -> list[str]:
    """``==> [n/5] stage (at M min)`` headers: when each stage began."""
    return [line for line in output.splitlines() if line.startswith("==> ")]


def report_records(project: Path) -> None:
    variant = project / "_srcstacks" / "cpu"
    summary = json.loads((variant / "run-summary.json").read_text())
    entries = summary["entries"]
    timed = sorted(
        (entry for entry in entries if entry.get("seconds") is not None),
        key=lambda entry: -entry["seconds"],
    )
    print(f"{len(entries)} wheel(s) in the run summary; the slowest builds:")
    for entry in timed[:12]:
        print(f"  {entry['project']} {entry['version']} ({entry.get('python', '')}): "
              f"{entry['seconds'] / 60:.1f} min")  # fmt: skip
    kept = project.parent / "records"
    kept.mkdir(exist_ok=True)
    shutil.copy(variant / "run-summary.json", kept / "run-summary.json")
    for number, graph in enumerate(sorted(variant.rglob("graph.json"))):
        shutil.copy(graph, kept / f"graph-{number}.json")
    records = json.loads((variant / "wheels" / "provenance.json").read_text())["wheels"]
    for record in records.values():
        if record["project"] in ("numpy", "scipy", "scikit-learn"):
            packages = record.get("build_environment", {}).get("system_packages", [])
            named = ", ".join(sorted({p["name"] for p in packages}))
            print(f"  {record['filename']}: built with {named}")
    used = subprocess.run(["du", "-sh", str(project / "_srcstacks")], capture_output=True,
                          text=True).stdout.split()[0]  # fmt: skip
    print(f"disk used by _srcstacks/: {used}")


def check_apps(project: Path, target: Path) -> None:
    for app, snippet in CHECKS.items():
        layer = next(target.glob(f"app-{app}*"), None)
        if layer is None:
            sys.exit(f"app-{app} was not deployed into {target}")
        result = subprocess.run([str(layer / "bin" / "python"), "-c", snippet],
                                capture_output=True, text=True)  # fmt: skip
        print(f"in {layer.name}:")
        for line in (result.stdout + result.stderr).splitlines():
            print(f"  {line}")
        if result.returncode != 0:
            sys.exit(f"the check in {layer.name} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, required=True, help="build here and keep it")
    parser.add_argument("--jobs", type=int, default=2)
    options = parser.parse_args()
    scratch = options.keep.resolve()
    project = scratch / "sample_project"
    if not project.exists():
        scratch.mkdir(parents=True, exist_ok=True)
        print(f"venvstacks {VENVSTACKS}'s sample project, adapted:")
        adapt(fetch_sample(scratch))
    print(f"{os.cpu_count()} cores; load before: {load()}")
    took, output = run("build", "--jobs", str(options.jobs), cwd=project,
                       log=scratch / "build.log")  # fmt: skip
    print(f"build: {took / 60:.1f} min (load after: {load()}); stages:")
    for line in stage_times(output):
        print(f"  {line}")
    target = scratch / "deployed"
    shutil.rmtree(target, ignore_errors=True)
    _, output = run("deploy", "--target", str(target), "--run", cwd=project)
    print("deploy --run:")
    for line in output.splitlines()[-6:]:
        print(f"  {line}")
    check_apps(project, target)
    took, _ = run("verify", cwd=project)
    print(f"verify: passed in {took:.0f} s")
    report_records(project)


if __name__ == "__main__":
    main()
