"""End-to-end: a stack built with the common real build backends rebuilds bit for bit.

tests/stacks/backends holds attrs (hatchling, hatch-vcs so setuptools-scm,
hatch-fancy-pypi-readme), idna (flit_core), tomlkit (poetry-core), six (setuptools) and
frozenlist (Cython and its own in-tree setuptools backend: a C extension). Every package
and build tool is built from source, once for this module, and deployed (about 80 s on
2 idle cores); ``verify --rebuild`` builds it all again (about 75 s, a third of it xz
compressing the runtime archive), and the negative control rebuilds frozenlist alone
without its patch (about 20 s). About 3 min in all; 5 min with other builds running.

That ``verify --rebuild`` can fail at all is shown on the demo stack
(tests/e2e/test_verify.py, another ``SOURCE_DATE_EPOCH``); here the negative control
shows that frozenlist's patch is what keeps a random folder out of its extension.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from srcstacks.build.plan import build_environment, read_graph
from srcstacks.build.stage import fromager_dirs
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.state.provenance import read_manifest
from tests.conftest import REPO_ROOT, run_cli

pytestmark = pytest.mark.e2e

STACK = REPO_ROOT / "tests" / "stacks" / "backends"
EXTENSION = "frozenlist/_frozenlist.cpython-311-x86_64-linux-gnu.so"
# frozenlist has a patch: its build tag names it (0_<digest>, tools/build_tags.py).
FROZENLIST = "frozenlist-1.8.0-0_*-cp311-cp311-linux_x86_64.whl"
PATCH = "patches/frozenlist-1.8.0/0001-build-wheel-in-place.patch"


def _one(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


# frozenlist's backend, unpatched, compiles in TemporaryDirectory(prefix=...).
RANDOM_FOLDER = b"/tmp/.tmp-frozenlist-pep517-"
# Where the build's -ffile-prefix-map puts Fromager's work dir in debug info.
MAPPED_SOURCE = b"/build/frozenlist-1.8.0/frozenlist-1.8.0/frozenlist/_frozenlist.cpp"

# Each top-level package: the backend its WHEEL file names as generator, and build
# tools that must be in its build environment (Fromager's graph).
BACKENDS = {
    "attrs": ("hatchling", {"hatchling", "hatch-vcs", "hatch-fancy-pypi-readme", "setuptools-scm"}),
    "idna": ("flit", {"flit-core"}),
    "tomlkit": ("poetry-core", {"poetry-core"}),
    "six": ("setuptools", {"setuptools"}),
    "frozenlist": ("setuptools", {"setuptools", "cython", "expandvars"}),
}
BUILD_TOOLS = {
    "hatchling", "hatch-vcs", "hatch-fancy-pypi-readme", "setuptools-scm", "flit-core",
    "poetry-core", "setuptools", "cython",
}  # fmt: skip


@dataclass(frozen=True)
class BackendsBuild:
    """The backends stack, built once for this module. Read-only."""

    spec: Path
    config: StackConfig
    deploy_output: str


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> BackendsBuild:
    root = tmp_path_factory.mktemp("backends")
    shutil.copytree(STACK, root / "stack")
    spec = root / "stack" / "venvstacks.toml"
    run_cli("build", spec)
    deployed = run_cli("deploy", spec, "--target", root / "deployed", "--run")
    return BackendsBuild(spec, load_config(spec), deployed.stdout)


def _member(wheel: Path, suffix: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [name for name in archive.namelist() if name.endswith(suffix)]
        return archive.read(name).decode()


def _wheel_version(wheel: Path) -> str:
    return str(parse_wheel_filename(wheel.name)[1])


def _wheel(config: StackConfig, project: str) -> Path:
    """The wheel of the version the spec pins: a build tool may need a newer release of
    the same project (``tomlkit>=0.11.1`` took 0.15.3 once PyPI had it)."""
    (pinned,) = [
        next(iter(req.specifier)).version
        for layer in config.layers
        for req in layer.requirements
        if req.name == project
    ]
    (wheel,) = config.wheel_dir.glob(f"{project.replace('-', '_')}-{pinned}-*.whl")
    return wheel


def test_every_package_was_built_by_its_own_backend_built_here(backends: BackendsBuild) -> None:
    config = backends.config
    graph = read_graph(fromager_dirs(config).graph)
    for project, (generator, tools) in BACKENDS.items():
        wheel = _wheel(config, project)
        # The backend really ran: it wrote the wheel's WHEEL file.
        assert f"\nGenerator: {generator} " in _member(wheel, ".dist-info/WHEEL"), wheel.name
        # And these tools were installed in the build environment it ran in.
        version = _wheel_version(wheel)
        (key,) = [
            key for key, node in graph.items() if (node.project, node.version) == (project, version)
        ]
        environment = {graph[tool].project for tool in build_environment(graph, key)}
        assert tools <= environment, (project, sorted(environment))
    # Cython ran for frozenlist (it is a build-backend requirement, not a leftover).
    frozenlist = _wheel(config, "frozenlist")
    assert "Cython>=3.1.1" in _member(frozenlist, "fromager-build-backend-requirements.txt")
    # Every one of those tools is a wheel built here from its sdist, with provenance.
    records = {record.project: record for record in read_manifest(config.wheel_dir).wheels.values()}
    for tool in BUILD_TOOLS:
        record = records[tool]
        assert record.built_from_source and record.sdist and record.sdist.sha256, tool
        assert (config.wheel_dir / record.filename).is_file()
    # Cython's build setting reached its build: the quick pure-Python Cython.
    assert records["cython"].build_env == {"NO_CYTHON_COMPILE": "true"}
    assert records["cython"].filename.endswith("-py3-none-any.whl")
    assert [patch.path for patch in records["frozenlist"].patches] == [PATCH]


def test_the_extension_is_in_the_archive_names_no_random_folder_and_runs(
    backends: BackendsBuild,
) -> None:
    config = backends.config
    with zipfile.ZipFile(_one(config.wheel_dir, FROZENLIST)) as wheel:
        built = wheel.read(EXTENSION)
    assert built.startswith(b"\x7fELF")
    with tarfile.open(config.output_dir / "app-backends.tar.xz") as tar:
        (member,) = [m for m in tar if m.name.endswith(f"site-packages/{EXTENSION}")]
        stream = tar.extractfile(member)
        assert stream is not None and stream.read() == built
    # The debug info names the source under the mapped work dir, never a /tmp folder.
    assert MAPPED_SOURCE in built
    assert b"/tmp/" not in built
    # Deployed, the app imports the compiled FrozenList (no pure-Python fallback).
    assert backends.deploy_output.splitlines()[-2:] == [
        '25.4.0 1.17.0 items = ["xn--bcher-kva.example"]',
        "True",
    ]


def test_the_stack_rebuilds_bit_for_bit(backends: BackendsBuild, tmp_path: Path) -> None:
    config = backends.config
    # --keep: the rebuild stays in the scratch folder, to be looked at below.
    scratch = tmp_path / "again"
    result = run_cli("verify", backends.spec, "--rebuild", "--scratch", scratch, "--keep")
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("DIFFERENT")]
    identical = {line.removeprefix("identical  ") for line in lines if line.startswith("identical")}
    wheels = sorted(path.name for path in config.wheel_dir.glob("*.whl"))
    assert len(wheels) > 15  # the five packages and every build tool (21 in Nov 2026)
    expected = {f"wheels/{name}" for name in wheels} | {
        "wheels/provenance.json",
        "archives/cpython-3.11.tar.xz",
        "archives/app-backends.tar.xz",
        "cpython-3.11.tar.xz.cdx.json",
        "app-backends.tar.xz.cdx.json",
        "__srcstacks__/build.json",
    }
    assert expected <= identical, sorted(expected - identical)
    assert lines[-2:] == [
        f"rebuilt bit for bit: {len(identical)} artifact(s) identical",
        f"the rebuild is kept in {scratch}",
    ]
    # The rebuild really built them again, in the scratch folder, from the sdists.
    summary = json.loads((scratch / "work" / "cpu" / "run-summary.json").read_text())
    actions = [(entry["project"], entry["action"]) for entry in summary["entries"]]
    assert len(actions) == len(wheels) and {action for _, action in actions} == {"built"}, actions


def test_without_its_patch_frozenlist_records_a_random_folder(
    backends: BackendsBuild, tmp_path: Path
) -> None:
    """Negative control: the patch is what makes frozenlist's extension reproducible."""
    stack = tmp_path / "stack"
    shutil.copytree(backends.spec.parent, stack, symlinks=True)
    shutil.rmtree(stack / "patches" / "frozenlist-1.8.0")
    result = run_cli("wheels", stack)
    assert "frozenlist 1.8.0: patches or build settings changed; rebuilding it" in result.stderr
    assert re.search(r"\n1 built, \d+ reused, 0 fetched", result.stderr), result.stderr
    run_cli("publish-wheels", stack)
    config = load_config(stack / "venvstacks.toml")
    # Unpatched, with no settings file: Fromager's build tag alone.
    with zipfile.ZipFile(
        config.wheel_dir / "frozenlist-1.8.0-0-cp311-cp311-linux_x86_64.whl"
    ) as wheel:
        unpatched = wheel.read(EXTENSION)
    assert RANDOM_FOLDER in unpatched
    assert MAPPED_SOURCE not in unpatched
