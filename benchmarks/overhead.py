"""srcstacks against the raw tools, and its reruns against a cold build, in one run.

On the demo stack (copied into a fresh folder with its 3.11 layers only, ``--no-index``:
the wheel dir alone, so no devpi port is needed), measures one after another:

1. ``srcstacks build`` cold, with the time of each stage (from its ``==>`` lines);
2. the same work done with the raw tools, in another fresh folder: ``fromager
   bootstrap`` of the same requirements with the same settings, patches and variant,
   then ``venvstacks lock`` and ``venvstacks build --publish`` of the same spec against
   Fromager's wheels. venvstacks cannot download a runtime here, so the runtime
   srcstacks packed in step 1 is seeded into venvstacks' build dir first (timed, as
   part of the raw run; packing it is srcstacks' own work and counts as its overhead).
   venvstacks runs through ``srcstacks.tools.venvstacks_main`` (venvstacks' own CLI
   with the seeded-runtime hook) with the environment srcstacks gives it;
3. ``srcstacks build`` again with nothing changed (the no-op rerun);
4. ``srcstacks build`` after the markupsafe patch changed (markupsafe rebuilt, the
   framework's lock, archive and SBOM made again, the app's SBOM that links to it).

Prints every time and the ratios, with the load average before and after. With a
number N, does all of it N times and takes each measurement's fastest round (on a
shared machine, the one least slowed by other load).

    python -m uv run python benchmarks/overhead.py [N]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import tomlkit

REPO = Path(__file__).resolve().parent.parent
DEMO = ("venvstacks.toml", "launch_modules", "build-settings", "patches")
EPOCH = "315532800"
# What srcstacks gives venvstacks (see runtime/prepare.runtime_env), for a fair comparison.
# The demo's xz_preset too: the raw run compresses at the same preset srcstacks does.
VENVSTACKS_ENV = {
    "PYTHONDONTWRITEBYTECODE": "1",
    "UV_NO_INSTALLER_METADATA": "1",
    "SRCSTACKS_XZ_PRESET": "1",
}


def copy_demo(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in DEMO:
        source = REPO / name
        copy = shutil.copytree if source.is_dir() else shutil.copy2
        copy(source, target / name)
    spec = target / "venvstacks.toml"
    document = tomlkit.parse(spec.read_text(encoding="utf-8"))
    document["tool"]["srcstacks"].pop("index", None)
    # Its 3.11 layers only: the raw run is one Fromager and one venvstacks on one Python,
    # as when docs/performance.md's figures were taken (the app on 3.12 goes to 3.11).
    first, *others = document["runtimes"]
    for layer in document["applications"]:
        if layer.get("runtime") in {other["name"] for other in others}:
            layer["runtime"] = first["name"]
    del document["runtimes"][1:]
    spec.write_text(tomlkit.dumps(document), encoding="utf-8")
    return spec


def srcstacks_build(spec: Path) -> tuple[float, dict[str, float]]:
    """Time one ``srcstacks build``, and each of its stages."""
    command = [sys.executable, "-m", "srcstacks", "build", str(spec), "--no-index"]
    start = time.perf_counter()
    marks: list[tuple[str, float]] = [("start-up", start)]
    with subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as run:
        assert run.stderr is not None
        for line in run.stderr:
            if line.startswith("==> ["):
                marks.append((line.split()[-1], time.perf_counter()))
    end = time.perf_counter()
    if run.returncode != 0:
        raise SystemExit(f"srcstacks build failed ({run.returncode})")
    stages = {name: marks[i + 1][1] - at if i + 1 < len(marks) else end - at
              for i, (name, at) in enumerate(marks)}  # fmt: skip
    return end - start, stages


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    # As `uv run` would: this environment's scripts (Fromager runs `wheel`) come first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env={**os.environ, "PATH": path, **(env or {})}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def raw_tools(spec: Path, srcstacks_spec: Path) -> dict[str, float]:
    """Fromager bootstrap, then venvstacks lock and build, of what srcstacks built."""
    root = spec.parent
    work = srcstacks_spec.parent / "_srcstacks"
    requirements = root / "requirements.txt"
    shutil.copy2(work / "cpu" / "requirements.txt", requirements)
    times = {}
    times["fromager bootstrap"] = timed(
        [sys.executable, "-m", "fromager", "--settings-dir", "build-settings",
         "--patches-dir", "patches", "--variant", "cpu", "--sdists-repo", "raw/sdists-repo",
         "--wheels-repo", "raw/wheels-repo", "--work-dir", "raw/work-dir",
         "bootstrap", "-r", str(requirements)],
        root, {"SOURCE_DATE_EPOCH": EPOCH},
    )  # fmt: skip
    wheels = root / "raw" / "wheels-repo" / "downloads"
    build = root / "raw" / "build"
    start = time.perf_counter()
    packed = next((work / "runtimes").glob("*.tar.gz"))
    seed(packed, build / "cpython@3.11.7")
    times["seed runtime"] = time.perf_counter() - start
    venvstacks = [sys.executable, "-m", "srcstacks.tools.venvstacks_main"]
    where = ["--build-dir", str(build), "--no-index", "--local-wheels", str(wheels)]
    times["venvstacks lock"] = timed([*venvstacks, "lock", str(spec), *where], root, VENVSTACKS_ENV)
    times["venvstacks build"] = timed(
        [*venvstacks, "build", str(spec), *where, "--publish", "--output-dir", "raw/out"],
        root, VENVSTACKS_ENV,
    )  # fmt: skip
    return times


def seed(archive: Path, target: Path) -> None:
    """Unpack an install_only runtime archive (top folder ``python/``) as ``target``."""
    unpack = target.with_name("unpacking")
    with tarfile.open(archive) as tar:
        tar.extractall(unpack, filter="tar")
    target.parent.mkdir(parents=True, exist_ok=True)
    (unpack / "python").rename(target)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def one_round(scratch: Path) -> dict[str, dict[str, float]]:
    """Every measurement once, in fresh folders; each as ``{total, parts...}``."""
    spec = copy_demo(scratch / "stack")
    cold, stages = srcstacks_build(spec)
    raw = raw_tools(copy_demo(scratch / "raw-stack"), spec)
    noop, _ = srcstacks_build(spec)
    patch = next((spec.parent / "patches" / "markupsafe").glob("*.patch"))
    patch.write_text(patch.read_text().replace('"&apos;")', '"&#x27;")', 1))
    one_patch, patch_stages = srcstacks_build(spec)
    return {
        "srcstacks cold build": {"total": cold, **stages},
        "raw tools": {"total": sum(raw.values()), **raw},
        "no-op rerun": {"total": noop},
        "one patch changed": {"total": one_patch, **patch_stages},
    }


def best_of(rounds: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each measurement's fastest round (the one least slowed by other load)."""
    return {
        name: min((found[name] for found in rounds), key=lambda item: item["total"])
        for name in rounds[0]
    }


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    print(f"load average (1, 5, 15 min) before: {load()}")
    rounds = []
    for number in range(count):
        with tempfile.TemporaryDirectory() as scratch:
            rounds.append(one_round(Path(scratch)))
        totals = ", ".join(f"{name} {found['total']:.2f} s" for name, found in rounds[-1].items())
        print(f"round {number + 1}: {totals} (load {load()})")
    print(f"load average (1, 5, 15 min) after:  {load()}")
    best = best_of(rounds)
    for name, found in best.items():
        print(f"{name:<22}{found['total']:7.2f} s")
        for part, seconds in found.items():
            if part != "total":
                print(f"    {part:<18}{seconds:7.2f} s")
    cold = best["srcstacks cold build"]["total"]
    raw = best["raw tools"]["total"]
    noop = best["no-op rerun"]["total"]
    one_patch = best["one patch changed"]["total"]
    print(f"srcstacks overhead    {cold - raw:7.2f} s   {cold / raw - 1:+6.1%} (goal <= +5%)")
    print(f"no-op rerun / cold    {noop / cold:6.1%} (goal <= 5%)")
    print(f"one patch / cold      {one_patch / cold:6.1%}")


if __name__ == "__main__":
    main()
