"""Rust extensions, below the build: the toolchain and environment cargo gets, Cargo.lock
checks, the crates ``cargo metadata`` resolves, and how crates are written in SBOMs and
provenance. The builds themselves are in tests/e2e/test_rust.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from srcstacks.errors import ConfigError
from srcstacks.spec.cargo import CargoSource, parse_cargo_table
from srcstacks.state.build_record import BuildEnvironment, Crate
from srcstacks.state.provenance import SdistRecord, WheelProvenance
from srcstacks.state.sbom_crates import add_crates, crate_dependencies, crates_of
from srcstacks.state.sbom_formulation import environment_of, formula
from srcstacks.state.wheel_sbom import WheelSbom, parse, render
from srcstacks.tools.cargo import (
    RustToolchain,
    cargo_config,
    cargo_configs_above,
    checksums,
    crates_from_metadata,
    find_rust_toolchain,
    license_expression,
    lock_problem,
    locked_packages,
    replaces_crates_io,
    rust_build_env,
    vendored_roots,
)

REGISTRY = "registry+https://github.com/rust-lang/crates.io-index"
LOCK = """version = 4

[[package]]
name = "demo"
version = "0.1.0"
dependencies = ["itoa", "pyo3"]

[[package]]
name = "itoa"
version = "1.0.19"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "3bd1574e617a9a6c1f8f8181bd7e841e1f20e4277607ef28945765188d6284d4"

[[package]]
name = "pyo3"
version = "0.30.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "229ca13b8a15bb0d1487b81ab975bfcd97513416499a8312011b6036e42e0de4"
dependencies = ["libc"]

[[package]]
name = "libc"
version = "0.2.191"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "65cd87c9a6d60536580b316ad985726104730a5151c99845f2490428ef91240a"
"""


RUST = BuildEnvironment(
    rustc="1.95.0 (59807616e 2026-04-14)",
    cargo="1.95.0 (f2d3ce0bd 2026-03-21)",
    rust_target="x86_64-unknown-linux-gnu",
)


def _package(name: str, version: str, source: str | None, license: str | None) -> dict[str, object]:
    return {"id": f"{name} {version}", "name": name, "version": version, "source": source,
            "license": license}  # fmt: skip


METADATA = {
    "packages": [
        _package("demo", "0.1.0", None, "MIT"),
        _package("itoa", "1.0.19", REGISTRY, "MIT OR Apache-2.0"),
        _package("pyo3", "0.30.1", REGISTRY, "MIT/Apache-2.0"),
        _package("libc", "0.2.191", REGISTRY, None),
    ],
    "resolve": {
        "nodes": [
            {"id": "demo 0.1.0", "dependencies": ["itoa 1.0.19", "pyo3 0.30.1"]},
            {"id": "itoa 1.0.19", "dependencies": []},
            {"id": "pyo3 0.30.1", "dependencies": ["libc 0.2.191"]},
            {"id": "libc 0.2.191", "dependencies": []},
        ]
    },
}


def crates(tmp_path: Path) -> list[Crate]:
    lock = tmp_path / "Cargo.lock"
    lock.write_text(LOCK)
    return crates_from_metadata(METADATA, checksums(lock))


def test_metadata_gives_each_registry_crate_with_its_lock_checksum_and_edges(
    tmp_path: Path,
) -> None:
    found = {crate.name: crate for crate in crates(tmp_path)}
    assert sorted(found) == ["itoa", "libc", "pyo3"], "the project's own crate is the sdist's"
    assert found["itoa"].sha256.startswith("3bd1574e") and found["itoa"].direct
    assert found["pyo3"].depends_on == ("libc@0.2.191",) and found["pyo3"].direct
    assert not found["libc"].direct and found["libc"].license == ""
    assert found["pyo3"].purl == "pkg:cargo/pyo3@0.30.1"


def test_crates_nest_in_the_wheels_sbom_and_read_back(tmp_path: Path) -> None:
    compiled = tuple(sorted(crates(tmp_path), key=lambda crate: crate.name))
    rust = replace(RUST, python="3.11.7", fromager="0.77.0")
    sbom = WheelSbom("demo", "0.1.0", "cpu", "demo-0.1.0.tar.gz", "b" * 64, (), rust, compiled)
    data = render(sbom, (), "0.77.0", 0)
    found = parse(data)
    assert found.crates == compiled and found.environment == rust
    document = json.loads(data)
    nested = document["metadata"]["component"]["components"]
    pyo3 = next(item for item in nested if item["name"] == "pyo3")
    assert pyo3["licenses"] == [{"expression": "MIT OR Apache-2.0", "acknowledgement": "declared"}]
    (owner,) = [
        entry for entry in document["dependencies"] if entry["ref"] == "pkg:pypi/demo@0.1.0"
    ]
    assert [ref.rsplit("/", 1)[1] for ref in owner["dependsOn"]] == ["itoa@1.0.19", "pyo3@0.30.1"]

    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode()) is None
    # Negative control: a wheel without crates has no nested components and no edges:
    # its entry says it depends on nothing.
    plain = json.loads(render(replace(sbom, crates=()), (), "0.77.0", 0))
    assert "components" not in plain["metadata"]["component"]
    assert plain["dependencies"] == [{"ref": "pkg:pypi/demo@0.1.0"}]


def test_a_layer_sbom_gets_the_crates_of_each_wheel_with_its_supplier(tmp_path: Path) -> None:
    compiled = tuple(crates(tmp_path))
    ref = "pkg:pypi/demo@0.1.0?file_name=demo-0.1.0-0-cp311-cp311-linux_x86_64.whl"
    layer = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
             "components": [{"type": "library", "name": "demo", "version": "0.1.0",
                             "bom-ref": ref, "supplier": {"name": "us"}}],
             "dependencies": [{"ref": ref}]}  # fmt: skip
    document = json.loads(add_crates(json.dumps(layer), {ref: compiled}))
    (component,) = document["components"]
    assert {item["supplier"]["name"] for item in component["components"]} == {"us"}
    assert crates_of(component, document["dependencies"]) == tuple(
        sorted(compiled, key=lambda crate: crate.name)
    )
    assert len({entry["ref"] for entry in document["dependencies"]}) == 4
    assert add_crates('{"a": 1}', {ref: ()}) == '{"a": 1}'


def test_the_rust_toolchain_is_a_builder_in_the_formula_and_reads_back() -> None:
    found = formula("pkg:pypi/demo@0.1.0", "demo 0.1.0", RUST)
    rustc, cargo = found["components"]
    assert (rustc["name"], rustc["version"], rustc["purl"]) == (
        "rustc",
        "1.95.0",
        "pkg:generic/rustc@1.95.0",
    )
    assert {"name": "srcstacks:rust_target", "value": "x86_64-unknown-linux-gnu"} in rustc[
        "properties"
    ]
    assert cargo["version"] == "1.95.0"
    assert environment_of(found) == RUST


def test_provenance_keeps_crates_and_leaves_them_out_when_none(tmp_path: Path) -> None:
    record = WheelProvenance(
        filename="demo-0.1.0-0-cp311-cp311-linux_x86_64.whl", project="demo", version="0.1.0",
        build_tag="0", sha256="c" * 64, variant="cpu",
        sdist=SdistRecord("https://x/demo-0.1.0.tar.gz", "demo-0.1.0.tar.gz", "b" * 64),
        crates=tuple(crates(tmp_path)),
    )  # fmt: skip
    data = json.loads(json.dumps(record.to_dict()))
    assert WheelProvenance.from_dict(data) == record
    assert data["crates"][0]["name"] == "itoa"
    assert "crates" not in replace(record, crates=()).to_dict()


def test_legacy_cargo_licences_become_spdx_expressions() -> None:
    assert license_expression("MIT/Apache-2.0") == "MIT OR Apache-2.0"
    assert license_expression("MIT OR Apache-2.0") == "MIT OR Apache-2.0"
    assert crate_dependencies("x", []) == []


def test_a_stale_or_missing_cargo_lock_is_named(tmp_path: Path) -> None:
    project = tmp_path / "demo-0.1.0"
    project.mkdir()
    lock = project / "Cargo.lock"
    assert lock_problem(project, {}) == ""
    lock.write_text(LOCK)
    before = {lock: locked_packages(lock)}
    assert lock_problem(project, before) == ""
    # cargo vendor resolved another libc: the lock was out of date with Cargo.toml.
    lock.write_text(LOCK.replace('version = "0.2.191"', 'version = "0.2.192"'))
    problem = lock_problem(project, before)
    assert problem.startswith("demo-0.1.0/Cargo.lock is out of date with its Cargo.toml")
    assert "libc 0.2.191" in problem and "libc 0.2.192" in problem
    assert lock_problem(project, {}).startswith("demo-0.1.0/Cargo.lock is missing")


def test_only_trees_whose_crates_fromager_vendored_count(tmp_path: Path) -> None:
    (tmp_path / ".cargo").mkdir()
    config = tmp_path / ".cargo" / "config.toml"
    config.write_text('[build]\nrustflags = ["-C", "opt-level=3"]\n')
    assert vendored_roots(tmp_path) == []
    config.write_text('[source.crates-io]\nreplace-with = "vendored-sources"\n'
                      '[source.vendored-sources]\ndirectory = "vendor"\n')  # fmt: skip
    assert vendored_roots(tmp_path) == [tmp_path]


TOOLCHAIN = RustToolchain("1.95.0 (x)", "1.95.0 (y)", "x86_64-unknown-linux-gnu", Path("/rust/bin"))


def test_builds_get_srcstacks_cargo_home_the_toolchains_bin_and_remapped_paths() -> None:
    env = rust_build_env(TOOLCHAIN, Path("/w/work-dir"), Path("/w/cargo-home"), "/scripts:/usr/bin")
    assert env["CARGO_HOME"] == "/w/cargo-home"
    assert env["PATH"] == "/scripts:/rust/bin:/usr/bin", "after srcstacks' scripts, before the rest"
    assert env["RUSTFLAGS"] == (
        "--remap-path-prefix=/w/work-dir=/build --remap-path-prefix=/w/cargo-home=/cargo"
    )
    spaced = rust_build_env(TOOLCHAIN, Path("/my w/wd"), Path("/my w/ch"), "/s")
    assert "RUSTFLAGS" not in spaced
    assert spaced["CARGO_ENCODED_RUSTFLAGS"].split("\x1f") == [
        "--remap-path-prefix=/my w/wd=/build", "--remap-path-prefix=/my w/ch=/cargo"
    ]  # fmt: skip
    assert env["CARGO_NET_RETRY"] == "1", "an unreachable registry fails soon"
    # Without a toolchain only cargo's own settings; the build names the missing cargo.
    bare = rust_build_env(None, Path("/w"), Path("/c"), "/s")
    assert set(bare) == {"CARGO_HOME", "CARGO_TERM_COLOR", "CARGO_NET_RETRY"}


def test_the_machines_rust_toolchain_is_found_behind_rustups_proxies() -> None:
    found = find_rust_toolchain()
    assert found is not None, "this project's machines have cargo and rustc"
    assert (found.bin_dir / "rustc").is_file() and (found.bin_dir / "cargo").is_file()
    on_path = shutil.which("rustc")
    assert on_path is not None
    if Path(on_path).parent.name == "bin" and Path(on_path).parent.parent.name == ".cargo":
        # rustup's proxy folder (this project's machines): builds get the toolchain's own.
        assert found.bin_dir != Path(on_path).parent
    assert found.rustc[0].isdigit() and found.target.count("-") >= 2
    assert find_rust_toolchain(os.devnull) is None


@pytest.mark.parametrize("declared", ["", "Apache-2.0 WITH LLVM-exception"])
def test_licences_are_kept_as_declared(declared: str) -> None:
    assert license_expression(declared) == declared


def test_the_cargo_table_names_a_mirror_or_a_folder_of_crates(tmp_path: Path) -> None:
    spec = tmp_path / "venvstacks.toml"
    (tmp_path / "crates").mkdir()
    assert parse_cargo_table(spec, None) is None
    mirror = parse_cargo_table(spec, {"registry": "sparse+https://crates.example/index/"})
    assert mirror == CargoSource(registry="sparse+https://crates.example/index/")
    assert parse_cargo_table(spec, {"directory": "crates"}) == CargoSource(
        directory=tmp_path / "crates"
    )
    for table, fragment in (
        ({}, "needs one of 'registry'"),
        ({"registry": "x", "directory": "crates"}, "needs one of 'registry'"),
        ({"registry": "ftp://crates.example/"}, "must be a registry URL"),
        ({"registry": "sparse+https://me:secret@crates.example/"}, "credentials never go"),
        ({"directory": "missing"}, "which is not a folder"),
        ({"mirror": "x"}, "unknown key 'tool.srcstacks.cargo.mirror'"),
    ):
        with pytest.raises(ConfigError, match=re.escape(fragment)) as caught:
            parse_cargo_table(spec, table)
        assert str(spec) in str(caught.value) and "secret" not in str(caught.value)


def test_a_mirror_replaces_crates_io_and_a_folder_of_crates_runs_cargo_offline(
    tmp_path: Path,
) -> None:
    assert cargo_config() == ""
    registry = tomllib.loads(cargo_config(registry="sparse+https://crates.example/index/"))
    assert registry["source"]["crates-io"] == {"replace-with": "srcstacks-mirror"}
    assert registry["source"]["srcstacks-mirror"] == {
        "registry": "sparse+https://crates.example/index/"
    }
    assert "net" not in registry
    folder = tomllib.loads(cargo_config(directory=tmp_path / "my crates"))
    assert folder["source"]["srcstacks-mirror"] == {"directory": str(tmp_path / "my crates")}
    assert folder["net"] == {"offline": True}
    home = tmp_path / "cargo-home"
    home.mkdir()
    assert not replaces_crates_io(home)
    (home / "config.toml").write_text(cargo_config(registry="sparse+https://crates.example/"))
    assert replaces_crates_io(home)


def test_cargo_config_files_above_a_source_tree_are_found(tmp_path: Path) -> None:
    tree = tmp_path / "work" / "pkg-1.0" / "pkg-1.0"
    (tree / ".cargo").mkdir(parents=True)
    (tree / ".cargo" / "config.toml").write_text("")  # the project's own: not the user's
    assert cargo_configs_above(tree) == []
    (tmp_path / ".cargo").mkdir()
    (tmp_path / ".cargo" / "config").write_text("")
    assert cargo_configs_above(tree) == [tmp_path / ".cargo" / "config"]
