"""End-to-end: a Rust extension (PyO3, built with setuptools-rust) from source.

``tests/stacks/rust_ext``: one application needing ``tinyrs``, a package the tests make
(``tests/fixtures/packages/tinyrs``: a PyO3 module on the ``itoa`` crate, its crates
pinned by its ``Cargo.lock``), served as an sdist by an index on loopback, with a patch
to its ``src/lib.rs`` and one to the vendored ``itoa`` crate. One build, shared by the
tests of this module: Fromager vendors the crates in the prepare step (network), the
compile runs under its network isolation, and srcstacks records rustc, cargo and every
crate in provenance and SBOMs. A Dask worker builds the same wheel again from the
private index. Then two sources srcstacks must refuse: a crate whose checksum is not
its lock file's, and a ``Cargo.lock`` out of date with its ``Cargo.toml``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from srcstacks.build.executors.base import PackageBuild, Status
from srcstacks.build.executors.dask_executor import DaskExecutor
from srcstacks.index.managed import ManagedIndex
from srcstacks.index.private import IndexLocation
from srcstacks.layout import Layout
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.state.build_record import Crate
from srcstacks.state.provenance import check_wheel_dir
from srcstacks.tools.cargo import find_rust_toolchain
from srcstacks.tools.fromager_files import read_build_order
from srcstacks.tools.toolchain import find_interpreter
from tests.conftest import REPO_ROOT, run_cli
from tests.conftest import cli_output as cli
from tests.dask_cluster import Cluster
from tests.e2e.test_dask_builds import (
    Coordinator,
    Recorder,
    context_for,
    index_record,
    wheels_on_index,
)
from tests.e2e.test_failures import assert_one_clear_error
from tests.e2e.test_private_index import credentials_env, fresh_index
from tests.index_server import serve_sdist
from tests.sdists import PACKAGES, make_sdist

pytestmark = pytest.mark.e2e

LOCK = tomllib.loads((PACKAGES / "tinyrs" / "Cargo.lock").read_text())
LOCKED = {
    f"{package['name']}@{package['version']}": package["checksum"]
    for package in LOCK["package"]
    if "checksum" in package
}


@dataclass(frozen=True)
class RustStack:
    spec: Path
    config: StackConfig
    build_output: str


def rust_stack(folder: Path, index_url: str) -> Path:
    """The rust_ext stack in ``folder``: the runtime this machine's 3.11, tinyrs from
    ``index_url``."""
    shutil.copytree(REPO_ROOT / "tests" / "stacks" / "rust_ext", folder)
    interpreter = find_interpreter("3.11")
    assert interpreter is not None, "this project's machines have CPython 3.11"
    spec = folder / "venvstacks.toml"
    spec.write_text(
        re.sub(r'"cpython@3\.11\.\d+"', f'"cpython@{interpreter.version}"', spec.read_text())
    )
    (folder / "build-settings").mkdir()
    # Unoptimised Rust: what these tests check (crates on the record, no machine path,
    # bit-for-bit rebuilds) holds at any level, and it compiles pyo3 in a third of the
    # time (benchmarks/rust_extensions.py builds it optimised).
    (folder / "build-settings" / "tinyrs.yaml").write_text(
        f"resolver_dist:\n  sdist_server_url: {index_url}\n"
        'env:\n  CARGO_PROFILE_RELEASE_OPT_LEVEL: "0"\n'
    )
    return spec


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RustStack]:
    folder = tmp_path_factory.mktemp("rust")
    sdist = make_sdist("tinyrs", folder / "sdists")
    with serve_sdist("tinyrs", sdist) as index_url:
        spec = rust_stack(folder / "stack", index_url)
        output = cli("build", spec)
        # The index stays up for the rebuild, which fetches the same sdist again.
        yield RustStack(spec, load_config(spec), output)


def test_the_extension_builds_deploys_and_runs_its_patched_rust_code(
    built: RustStack, tmp_path: Path
) -> None:
    deployed = cli("deploy", built.spec, "--target", tmp_path / "deployed", "--run")
    # The patch to src/lib.rs took effect, and so did the one to the vendored itoa crate
    # (applied after cargo vendor fetched it; cargo's check of its files passed).
    assert "formatted: ~1234567 (patched)" in deployed
    assert "_tinyrs.cpython-311-x86_64-linux-gnu.so" in deployed
    # The compile (after the prepare step fetched the crates) saw no network but loopback,
    # where this machine has more (the negative control).
    assert "network during the compile: lo\n" in deployed
    here = Path("/proc/net/dev").read_text().splitlines()[2:]
    assert len(here) > 1, "this machine has a network device besides loopback"
    # The pedigree names both patches, and the crate record the one that changed it.
    manifest = check_wheel_dir(built.config.wheel_dir)
    (record,) = [r for r in manifest.wheels.values() if r.project == "tinyrs"]
    assert [patch.path for patch in record.patches] == [
        "patches/tinyrs/0001-mark-formatted-numbers.patch",
        "patches/tinyrs/0002-itoa-writes-a-tilde-for-minus.patch",
    ]
    patched = {crate.key: crate.patches for crate in record.crates if crate.patches}
    assert patched == {"itoa@1.0.19": ("tinyrs/0002-itoa-writes-a-tilde-for-minus.patch",)}


def test_every_crate_and_the_rust_toolchain_are_on_the_record(built: RustStack) -> None:
    manifest = check_wheel_dir(built.config.wheel_dir)
    (record,) = [r for r in manifest.wheels.values() if r.project == "tinyrs"]
    # Every crate the lock file pins for this platform, with the lock's checksum: pyo3
    # needs portable-atomic only on targets without 64-bit atomics, so not here.
    here = {key: sha256 for key, sha256 in LOCKED.items() if key != "portable-atomic@1.15.0"}
    assert {crate.key: crate.sha256 for crate in record.crates} == here
    direct = sorted(crate.name for crate in record.crates if crate.direct)
    assert direct == ["itoa", "pyo3"]
    toolchain = find_rust_toolchain()
    assert toolchain is not None and record.build_environment is not None
    environment = record.build_environment
    assert (environment.rustc, environment.cargo) == (toolchain.rustc, toolchain.cargo)
    assert environment.rust_target == toolchain.target
    # The wheel's own SBOM (PEP 770) nests the same crates in its component.
    with zipfile.ZipFile(built.config.wheel_dir / record.filename) as wheel:
        own = json.loads(wheel.read("tinyrs-0.1.0.dist-info/sboms/tinyrs.cdx.json"))
    nested = own["metadata"]["component"]["components"]
    assert sorted(f"{c['name']}@{c['version']}" for c in nested) == sorted(here)
    # The layer's SBOM: the crates nested in tinyrs's component, with hashes, purls,
    # licences and edges, and rustc and cargo in its formula.
    sbom = json.loads((built.config.output_dir / "app-numbers.tar.xz.cdx.json").read_text())
    (tinyrs,) = [c for c in sbom["components"] if c["name"] == "tinyrs"]
    crates = {c["purl"]: c for c in tinyrs["components"] if c["purl"].startswith("pkg:cargo/")}
    assert sorted(crates) == sorted(f"pkg:cargo/{key}" for key in here)
    # Beside them, the system libraries the extension loads (libc, libgcc_s), as pkg:deb.
    system = [c for c in tinyrs["components"] if not c["purl"].startswith("pkg:cargo/")]
    assert system and all(c["purl"].startswith("pkg:deb/") for c in system)
    # itoa was patched: it claims no hash of its own; the crate as fetched, its ancestor,
    # has the lock file's, and the patch is named.
    itoa = crates["pkg:cargo/itoa@1.0.19"]
    assert "hashes" not in itoa
    (fetched,) = itoa["pedigree"]["ancestors"]
    assert fetched["hashes"] == [{"alg": "SHA-256", "content": LOCKED["itoa@1.0.19"]}]
    assert [p["diff"]["url"] for p in itoa["pedigree"]["patches"]] == [
        "tinyrs/0002-itoa-writes-a-tilde-for-minus.patch"
    ]
    pyo3 = crates["pkg:cargo/pyo3@0.30.1"]
    assert pyo3["hashes"] == [{"alg": "SHA-256", "content": LOCKED["pyo3@0.30.1"]}]
    assert itoa["licenses"][0]["expression"] == "MIT OR Apache-2.0"
    edges = {entry["ref"]: entry.get("dependsOn", []) for entry in sbom["dependencies"]}
    assert itoa["bom-ref"] in edges[tinyrs["bom-ref"]]
    (formula,) = [f for f in sbom["formulation"] if tinyrs["bom-ref"] in json.dumps(f)]
    builders = {
        c["name"]: c["version"]
        for c in formula["components"]
        if any(p["name"] == "srcstacks:builder" for p in c.get("properties", []))
    }
    assert builders["rustc"] == toolchain.rustc.split()[0]
    assert "OK" in cli("sbom", "check", built.config.output_dir / "app-numbers.tar.xz.cdx.json")


def test_the_compiled_module_holds_no_path_of_this_machine(built: RustStack) -> None:
    manifest = check_wheel_dir(built.config.wheel_dir)
    (record,) = [r for r in manifest.wheels.values() if r.project == "tinyrs"]
    with zipfile.ZipFile(built.config.wheel_dir / record.filename) as wheel:
        (member,) = [name for name in wheel.namelist() if name.endswith(".so")]
        data = wheel.read(member)
    strings = subprocess.run(["strings", "-n", "6"], input=data, capture_output=True,
                             check=True).stdout.decode()  # fmt: skip
    # The vendored crates' panic locations name the mapped folder, not this machine's.
    assert "/build/tinyrs-0.1.0/tinyrs-0.1.0/vendor/pyo3/" in strings
    for local in {str(built.spec.parent), os.environ.get("HOME", "/root"), "/.cargo/"}:
        assert local not in strings, f"{local} is in {member}"


def test_the_stack_verifies_and_rebuilds_bit_for_bit(built: RustStack) -> None:
    assert "0 problem(s)" in cli("verify", built.spec)
    rebuilt = cli("verify", built.spec, "--rebuild")
    assert "DIFFERENT" not in rebuilt
    tagged = r"tinyrs-0\.1\.0-0_[0-9a-f]{8}-cp311-cp311-linux_x86_64\.whl"  # patched: tagged
    assert re.search(r"identical\s+wheels/" + tagged, rebuilt)


def test_a_dask_worker_builds_the_same_wheel_with_the_same_crates(
    built: RustStack, devpi_index: ManagedIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = credentials_env(devpi_index)
    for name, value in credentials.items():  # the coordinator uploads sdists and tools
        monkeypatch.setenv(name, value)
    dirs = Layout.of(built.config).fromager
    local = {path.name: path.read_bytes() for path in dirs.built_wheels.glob("tinyrs-*.whl")}
    (entry,) = [e for e in read_build_order(dirs) or [] if e.project == "tinyrs"]
    build = PackageBuild(entry.project, entry.version, entry.source_url)
    url = fresh_index(devpi_index, "dask-rust")
    context = context_for(Coordinator(built.config, local, {"tinyrs": build}), url, tmp_path)
    (tmp_path / "cluster").mkdir()
    cluster = Cluster(tmp_path / "cluster", {**os.environ, **credentials})
    try:
        cluster.start_scheduler()
        cluster.start_worker("worker-a")
        cluster.wait_for_workers(1)
        (outcome,) = DaskExecutor(cluster.address).run([build], context, Recorder())
    finally:
        cluster.stop()
    assert outcome.status == Status.BUILT, outcome
    # The worker vendored the crates, applied both patches (the one to itoa after
    # vendoring) and compiled the same bytes as the local build.
    location = IndexLocation.parse(url)
    assert outcome.wheel is not None
    assert wheels_on_index(location, "tinyrs") == {outcome.wheel: local[outcome.wheel]}
    record = index_record(location, outcome.wheel)["wheel"]
    crates = {crate.key: crate for crate in map(Crate.from_dict, record["crates"])}  # type: ignore[index]
    assert crates["itoa@1.0.19"].patches == ("tinyrs/0002-itoa-writes-a-tilde-for-minus.patch",)
    assert record["build_environment"]["rustc"] == find_rust_toolchain().rustc  # type: ignore[index,union-attr]


def test_crates_that_do_not_match_their_cargo_lock_are_refused(tmp_path: Path) -> None:
    # A lock file whose checksum for itoa is not that of the crate the registry serves.
    tree = tmp_path / "tinyrs"
    shutil.copytree(PACKAGES / "tinyrs", tree)
    lock = tree / "Cargo.lock"
    good = LOCKED["itoa@1.0.19"]
    lock.write_text(lock.read_text().replace(good, good[:-1] + ("0" if good[-1] != "0" else "1")))
    forged = make_sdist("tinyrs", tmp_path / "forged", tree)
    with serve_sdist("tinyrs", forged) as index_url:
        spec = rust_stack(tmp_path / "stack", index_url)
        result = run_cli("wheels", spec, check=False)
    assert result.returncode == 1, result.stderr
    assert_one_clear_error(result.stderr, "crate itoa 1.0.19", "Cargo.lock", "refused")
    wheels = tmp_path / "stack" / "_srcstacks" / "cpu" / "fromager" / "wheels-repo" / "downloads"
    assert not list(wheels.glob("tinyrs-*.whl"))


def test_a_cargo_lock_out_of_date_with_its_cargo_toml_is_refused(tmp_path: Path) -> None:
    # A Cargo.toml asking for a crate its Cargo.lock does not pin: cargo vendor would
    # write a new lock file; srcstacks refuses instead of compiling unpinned crates.
    tree = tmp_path / "tinyrs"
    shutil.copytree(PACKAGES / "tinyrs", tree)
    manifest = tree / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('itoa = "1"\n', 'itoa = "1"\nryu = "1"\n'))
    stale = make_sdist("tinyrs", tmp_path / "stale", tree)
    with serve_sdist("tinyrs", stale) as index_url:
        spec = rust_stack(tmp_path / "stack", index_url)
        result = run_cli("wheels", spec, check=False)
    assert result.returncode == 1, result.stderr
    assert_one_clear_error(result.stderr, "tinyrs-0.1.0/Cargo.lock is out of date", "ryu")
    wheels = tmp_path / "stack" / "_srcstacks" / "cpu" / "fromager" / "wheels-repo" / "downloads"
    assert not list(wheels.glob("tinyrs-*.whl"))


def test_crates_come_from_a_folder_of_crates_offline_and_a_tampered_crate_is_refused(
    tmp_path: Path,
) -> None:
    sdist = make_sdist("tinyrs", tmp_path / "sdists")
    with serve_sdist("tinyrs", sdist) as index_url:
        spec = rust_stack(tmp_path / "stack", index_url)
        # The folder of crates a machine without any crate registry builds from (made
        # here with cargo vendor, as its owner would on a machine that has one).
        crates = tmp_path / "stack" / "crates"
        subprocess.run(
            ["cargo", "vendor", "--quiet", "--manifest-path",
             str(PACKAGES / "tinyrs" / "Cargo.toml"), str(crates)],
            check=True, capture_output=True,
            env={**os.environ, "CARGO_HOME": str(tmp_path / "own-cargo-home")},
        )  # fmt: skip
        with spec.open("a") as text:
            text.write('\n[tool.srcstacks.cargo]\ndirectory = "crates"\n')
        # One crate in the folder is not the one the lock file pins: refused.
        checksum = crates / "itoa" / ".cargo-checksum.json"
        genuine = checksum.read_text()
        checksum.write_text(json.dumps({**json.loads(genuine), "package": "0" * 64}))
        result = run_cli("wheels", spec, check=False)
        assert result.returncode == 1, result.stderr
        assert_one_clear_error(result.stderr, "crate itoa 1.0.19", "Cargo.lock", "refused")
        # The genuine folder: cargo builds from it, offline (so from nowhere else).
        checksum.write_text(genuine)
        cli("wheels", spec)
    cargo_home = tmp_path / "stack" / "_srcstacks" / "cpu" / "fromager" / "cargo-home"
    config = tomllib.loads((cargo_home / "config.toml").read_text())
    assert config["source"]["srcstacks-mirror"] == {"directory": str(crates)}
    assert config["net"] == {"offline": True}
    # Newer cargo writes registry/CACHEDIR.TAG whatever it fetches: nothing else there.
    registry = sorted(path.name for path in (cargo_home / "registry").glob("*"))
    assert registry in ([], ["CACHEDIR.TAG"]), f"crates came from a registry: {registry}"
    wheels = tmp_path / "stack" / "_srcstacks" / "cpu" / "fromager" / "wheels-repo" / "downloads"
    assert len(list(wheels.glob("tinyrs-0.1.0-*.whl"))) == 1
