"""Shared fixtures: one real build of the demo stack, shared by every test that reads it.

The shared build is read-only: after every test that used it, the whole tree (stack
folder with its work dir, wheel dir and output dir, and the deploy dir) is compared with
a snapshot taken when it was built, and the test fails if it wrote anything there.

The suite runs on every core (pytest-xdist, ``--dist loadscope``: a module's tests stay
on one worker, so a module fixture builds once). Session fixtures run once per worker.
The slowest modules are collected first (:data:`SLOWEST_FIRST`), so no long module
starts last while the other workers sit idle.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit

from srcstacks.spec.config import StackConfig, load_config
from tests.cli_process import run_srcstacks

pytest_plugins = ["tests.devpi_fixtures"]  # devpi_index: a real devpi-server

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_FILES = ("venvstacks.toml", "launch_modules", "build-settings", "patches")
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"  # the Python running the tests


# The modules that take longest, longest first (measured in a fresh-clone `.ci/run`,
# docs/performance.md); every other module follows in its usual order.
SLOWEST_FIRST = (
    "tests/e2e/test_runtime_build.py",
    "tests/e2e/test_two_pythons.py",
    "tests/e2e/test_rust.py",
    "tests/e2e/test_variants_and_conflicts.py",
    "tests/e2e/test_backends_rebuild.py",
    "tests/e2e/test_private_index.py",
    "tests/e2e/test_dask_builds.py",
    "tests/e2e/test_selective.py",
    "tests/e2e/test_verify.py",
    "tests/e2e/test_faults.py",
    "tests/e2e/test_parallel_builds.py",
    "tests/e2e/test_blas.py",
    "tests/e2e/test_index_loop.py",
    "tests/e2e/test_spec_features.py",
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: one worker more than CPUs (pytest-xdist's own answer when
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` is set).

    The end-to-end tests leave the CPUs idle about a tenth of the time (waiting on the
    network, devpi, a Dask cluster): on 2 CPUs, 3 workers ran the suite in 13 min 23 s
    where 2 took 14 min 55 s (docs/performance.md).
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return len(os.sched_getaffinity(0)) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slowest modules first (stable: each module keeps its tests' order)."""
    rank = {module: index for index, module in enumerate(SLOWEST_FIRST)}

    def module_rank(item: pytest.Item) -> int:
        return rank.get(item.nodeid.split("::", 1)[0], len(rank))

    items.sort(key=module_rank)


def copy_demo_stack(target: Path, *, with_index: bool = False, both_pythons: bool = False) -> Path:
    """Copy the repo's demo stack (spec, launch modules, settings, patches) to ``target``.

    The demo's spec names a managed index on devpi's default port; the copy leaves it out
    (the wheel dir alone) unless ``with_index``, so tests never contend for that port.
    Its first runtime packs the Python running srcstacks (3.11 in the repo): under
    another Python (the unit tests on 3.12 and 3.13) the copy's runtime is that one.
    The demo's second runtime (3.12, the punycode app's) costs every build a second
    toolchain and group of wheels: the copy moves its layers onto the first runtime
    unless ``both_pythons`` (the tests of the demo as committed, and of several Pythons).
    """
    target.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy2(source, target / name)
    spec = target / "venvstacks.toml"
    document = tomlkit.parse(spec.read_text(encoding="utf-8"))
    if not with_index:
        document["tool"]["srcstacks"].pop("index", None)
    runtimes = document["runtimes"]
    runtime = runtimes[0]
    if not both_pythons:
        for extra in runtimes[1:]:
            for kind in ("frameworks", "applications"):
                for layer in document.get(kind, []):
                    if layer.get("runtime") == extra["name"]:
                        layer["runtime"] = runtime["name"]
        del runtimes[1:]
    if not runtime["python_implementation"].startswith(f"cpython@{HERE}."):
        runtime["python_implementation"] = f"cpython@{platform.python_version()}"
    spec.write_text(tomlkit.dumps(document), encoding="utf-8")
    return spec


def run_cli(
    *args: str | Path,
    cwd: Path | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``srcstacks`` command line in a child process (``env`` added to ours),
    forked from this one (tests/cli_process.py)."""
    result = run_srcstacks([str(arg) for arg in args], cwd=cwd, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"srcstacks {' '.join(map(str, args))} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def cli_output(*args: str | Path, check: bool = True) -> str:
    """The CLI's whole output (progress goes to stderr), after asserting its exit code:
    0, or with ``check=False`` 1 and no traceback."""
    result = run_cli(*args, check=check)
    if not check:
        assert result.returncode == 1 and "Traceback" not in result.stderr
    return result.stdout + result.stderr


Snapshot = dict[str, str]


@dataclass(frozen=True)
class BuiltStack:
    """The demo stack, built for real once per test session, and deployed. Read-only."""

    spec: Path
    config: StackConfig
    build_output: str
    deploy_dir: Path

    def snapshot(self) -> Snapshot:
        """Every file, link and folder of the shared build, with its content and mtime.

        Left out: the work dir's ``.lock`` (every run takes it, verify too) and the
        ``__pycache__`` that running the deployed apps writes. The mtime of venvstacks'
        ``requirements-*.in`` is left out too: every venvstacks build rewrites them, with
        the same bytes (``verify --rebuild`` does).
        """
        config = self.config
        stack_dir = self.spec.parent
        roots = [stack_dir, self.deploy_dir] + [
            folder
            for folder in (config.work_dir, config.wheel_dir, config.output_dir)
            if not folder.is_relative_to(stack_dir)
        ]
        ignored = {config.work_dir / ".lock"}
        requirements = stack_dir / "requirements"
        entries: Snapshot = {}
        for root in roots:
            for path in sorted(root.rglob("*")):
                if path in ignored or "__pycache__" in path.parts:
                    continue
                if path.is_symlink():
                    entries[str(path)] = f"link {os.readlink(path)}"
                elif path.is_file():
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                    rewritten = path.suffix == ".in" and path.parent.parent == requirements
                    mtime = "" if rewritten else f" {path.stat().st_mtime_ns}"
                    entries[str(path)] = f"file {digest}{mtime}"
                else:
                    entries[str(path)] = "dir"
        return entries


def snapshot_changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs between two snapshots, one line per path."""
    changes = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None or new is None:
            changes.append(f"{'added' if old is None else 'removed'} {path}")
        elif old.split()[:2] == new.split()[:2]:
            changes.append(f"rewritten with the same bytes {path}")
        else:
            changes.append(f"changed {path}")
    return changes


def copy_built_stack(stack: BuiltStack, target: Path) -> Path:
    """A private copy of the shared build's stack folder (work, wheel and output dirs in it).

    The locks in the copy still name the shared build's wheel dir as their index (see
    docs/guarantees.md, "Locks across checkouts"): venvstacks would lock again there, but
    srcstacks' own checks, which read wheel names and hashes, run on the copy as they are.
    """
    shutil.copytree(stack.spec.parent, target, symlinks=True)
    return target / stack.spec.name


# The shared build as it was when built, and as the last test that used it left it.
_SNAPSHOTS: dict[Path, Snapshot] = {}


@pytest.fixture
def copied_outputs(built_stack: BuiltStack, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A private copy of the shared build's wheel dir and output dir, free to tamper with."""
    wheels = tmp_path / "wheels"
    output = tmp_path / "artifacts"
    shutil.copytree(built_stack.config.wheel_dir, wheels)
    shutil.copytree(built_stack.config.output_dir, output)
    args = [str(built_stack.spec), "--wheel-dir", str(wheels), "--output-dir", str(output)]
    return wheels, output, args


@pytest.fixture(scope="session")
def built_stack(tmp_path_factory: pytest.TempPathFactory) -> BuiltStack:
    """Build the demo stack end to end with Fromager and venvstacks, then deploy it.

    Tests that only read the outputs share this one build; tests that change or break
    a stack make their own (``copy_built_stack``, or ``copy_demo_stack`` and a build).
    """
    root = tmp_path_factory.mktemp("demo")
    spec = copy_demo_stack(root / "stack")
    result = run_cli("build", spec)
    config = load_config(spec)
    deploy_dir = root / "deployed"
    run_cli("deploy", spec, "--target", deploy_dir)
    stack = BuiltStack(spec=spec, config=config, build_output=result.stderr, deploy_dir=deploy_dir)
    _SNAPSHOTS[spec] = stack.snapshot()
    return stack


@pytest.fixture(autouse=True)
def _shared_build_stays_untouched(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test that wrote into the shared build (hashing it takes well under a second)."""
    if "built_stack" not in request.fixturenames:
        yield
        return
    stack: BuiltStack = request.getfixturevalue("built_stack")
    before = _SNAPSHOTS[stack.spec]
    yield
    after = stack.snapshot()
    if after != before:
        # Blame this test only: the next one is compared with the tree as it is now.
        _SNAPSHOTS[stack.spec] = after
        changes = snapshot_changes(before, after)
        pytest.fail(
            f"{request.node.nodeid} wrote into the shared built_stack, which is read-only"
            f" (copy it first): {len(changes)} change(s):\n" + "\n".join(changes[:30])
        )
