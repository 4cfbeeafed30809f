"""The SBOM of a runtime srcstacks built from CPython's source tarball (no real build).

Documents are built from hand-made inputs (a RuntimeRecord carrying a CPythonBuild, as
the runtime build writes it into build.json) and judged by the CycloneDX 1.6 schema and
by `srcstacks sbom check`'s own checker.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from srcstacks.errors import OwnershipError
from srcstacks.sbom.check import check_document
from srcstacks.sbom.document import build_document
from srcstacks.sbom.inputs import portable_runtime, runtime_patch_texts
from srcstacks.sbom.profiles import profile_problems
from srcstacks.spec.config import load_config
from srcstacks.state.archive_reader import read_archive
from srcstacks.state.build_record import SystemPackage
from srcstacks.state.records import (
    BuildInfo,
    BundledLibrary,
    CPythonBuild,
    PatchRecord,
    RuntimeRecord,
    SystemLibrary,
)
from srcstacks.state.sbom_formulation import environment_of
from tests.test_sbom_document import RUNTIME, layer_inputs

PATCH = b"--- a/Lib/x.py\n+++ b/Lib/x.py\n@@ -1 +1 @@\n-a\n+b\n"
PATCH_NAME = "cpython/0001-demo.patch"
URL = "https://www.python.org/ftp/python/3.11.2/Python-3.11.2.tgz"
TARBALL_SHA256 = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"
PACKED = "cpython-3.11.2-linux_x86_64-install_only.tar.gz"
BUILD = CPythonBuild(
    version="3.11.2",
    tarball_origin=URL,
    tarball_filename="Python-3.11.2.tgz",
    tarball_sha256=TARBALL_SHA256,
    patches=(PatchRecord(PATCH_NAME, hashlib.sha256(PATCH).hexdigest()),),
    configure_args=("--prefix=/install", "--enable-shared", "--without-ensurepip", "--with-lto"),
    env={"CFLAGS": "-O2"},
    compiler="gcc (Debian 12.2.0-14+deb12u1) 12.2.0",
    source_date_epoch="315532800",
    bundled=(
        BundledLibrary(
            "mpdecimal", "2.5.1", "BSD-2-Clause", "Modules/_decimal/libmpdec", "_decimal"
        ),
        BundledLibrary("expat", "2.5.0", "MIT", "Modules/expat", "pyexpat"),
    ),
    system_libraries=(
        SystemLibrary("libssl.so.3", "libssl3", "3.0.19-1~deb12u2", "deb"),
        SystemLibrary("libc.so.6", "libc6", "2.36-9+deb12u10", "deb"),
        SystemLibrary("libz.so.1", "zlib", "1.2.13-5.el9", "rpm"),
        SystemLibrary("libffi.so.8"),
    ),
    inputs_sha256="c" * 64,
)
BUILT = RuntimeRecord(
    layer="cpython-3.11",
    python_implementation="cpython@3.11.2",
    source="build",
    origin=URL,
    filename=PACKED,
    sha256="b" * 64,
    build=BUILD,
    debug_info="stripped",
)


def document_of(
    record: RuntimeRecord,
    texts: dict[str, bytes] | None = None,
    needed: tuple[str, ...] = ("libc.so.6", "libssl.so.3"),
    archive_sha256: str | None = None,
) -> str:
    inputs = layer_inputs("cpython-3.11", "runtime", runtime=record, archive_sha256=archive_sha256)
    inputs = replace(
        inputs,
        runtime_system_libraries=needed,
        runtime_patch_texts={PATCH_NAME: PATCH} if texts is None else texts,
    )
    return build_document(inputs).text


def cpython_of(text: str) -> dict[str, Any]:
    (cpython,) = [c for c in json.loads(text)["components"] if c["name"] == "cpython"]
    return dict(cpython)


def properties(component: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in component.get("properties", [])}


def nested(cpython: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in cpython.get("components", [])}


def test_built_cpython_names_its_tarball_cpe_and_how_it_was_built() -> None:
    cpython = cpython_of(document_of(BUILT))
    assert cpython["cpe"] == "cpe:2.3:a:python:python:3.11.2:*:*:*:*:*:*:*"
    assert cpython["version"] == "3.11.2"
    assert cpython["supplier"] == {"name": "ACME builds"}  # we built it
    assert cpython["authors"] == [{"name": "Python Software Foundation"}]
    # Its creator, with the URL BSI TR-03183-2 asks of a component creator.
    assert cpython["manufacturer"] == {
        "name": "Python Software Foundation",
        "url": ["https://www.python.org/psf/"],
    }
    python_license = {"acknowledgement": "concluded", "id": "Python-2.0"}
    assert cpython["licenses"] == [{"license": python_license}]
    # The component's hash is the install_only tarball srcstacks packed...
    assert cpython["hashes"] == [{"alg": "SHA-256", "content": "b" * 64}]
    assert cpython["purl"] == f"pkg:generic/cpython@3.11.2?file_name={PACKED}"
    # ...the source tarball is its source distribution, with that tarball's hash.
    (reference,) = cpython["externalReferences"]
    assert reference["type"] == "source-distribution" and reference["url"] == URL
    assert reference["hashes"] == [{"alg": "SHA-256", "content": TARBALL_SHA256}]
    found = properties(cpython)
    assert found["srcstacks:runtime:source"] == "build"
    assert found["srcstacks:runtime:configure_args"] == (
        "--prefix=/install --enable-shared --without-ensurepip --with-lto"
    )
    assert found["srcstacks:runtime:compiler"] == "gcc (Debian 12.2.0-14+deb12u1) 12.2.0"
    assert found["srcstacks:runtime:source_date_epoch"] == "315532800"
    assert found["srcstacks:runtime:build_env:CFLAGS"] == "-O2"
    assert found["srcstacks:runtime:tarball_sha256"] == TARBALL_SHA256
    assert found["srcstacks:runtime:inputs_sha256"] == "c" * 64
    assert found["srcstacks:system_libraries"] == "libc.so.6 libssl.so.3"
    assert found["srcstacks:runtime:debug_info"] == "stripped"


def test_configure_args_keep_an_argument_with_spaces_whole() -> None:
    build = replace(BUILD, configure_args=("--prefix=/install", "CFLAGS=-O2 -g"))
    found = properties(cpython_of(document_of(replace(BUILT, build=build))))
    assert found["srcstacks:runtime:configure_args"] == "--prefix=/install 'CFLAGS=-O2 -g'"


def test_patches_are_pedigree_with_their_text() -> None:
    pedigree = cpython_of(document_of(BUILT))["pedigree"]
    (patch,) = pedigree["patches"]
    assert patch["type"] == "unofficial"
    assert patch["diff"]["url"] == PATCH_NAME
    assert patch["diff"]["text"] == {"content": PATCH.decode(), "contentType": "text/x-diff"}
    (ancestor,) = pedigree["ancestors"]
    assert ancestor["version"] == "3.11.2"
    assert ancestor["hashes"] == [{"alg": "SHA-256", "content": TARBALL_SHA256}]
    assert ancestor["purl"].endswith("file_name=Python-3.11.2.tgz")
    assert "1 patch(es) applied" in pedigree["notes"]


def test_a_patch_without_readable_text_is_named_and_hashed_only() -> None:
    cpython = cpython_of(document_of(BUILT, texts={}))
    (patch,) = cpython["pedigree"]["patches"]
    assert patch["diff"] == {"url": PATCH_NAME}
    assert properties(cpython)[f"srcstacks:patch:{PATCH_NAME}:sha256"] == BUILD.patches[0].sha256


def test_patch_order_is_kept_although_pedigree_sorts_them() -> None:
    later = PatchRecord("cpython/0002-later.patch", "e" * 64)
    build = replace(BUILD, patches=(later, *BUILD.patches))  # applied 0002 first
    found = properties(cpython_of(document_of(replace(BUILT, build=build))))
    assert found["srcstacks:runtime:patch_order"] == f"cpython/0002-later.patch {PATCH_NAME}"


def test_bundled_libraries_are_nested_components() -> None:
    cpython = cpython_of(document_of(BUILT))
    parts = nested(cpython)
    expat, mpdecimal = parts["expat"], parts["mpdecimal"]
    assert (expat["type"], expat["version"], expat["purl"]) == (
        "library", "2.5.0", "pkg:generic/expat@2.5.0",
    )  # fmt: skip
    assert expat["cpe"] == "cpe:2.3:a:libexpat_project:libexpat:2.5.0:*:*:*:*:*:*:*"
    assert expat["licenses"] == [{"license": {"acknowledgement": "concluded", "id": "MIT"}}]
    assert properties(expat) == {
        "srcstacks:bundled:module": "pyexpat",
        "srcstacks:bundled:where": "Modules/expat",
    }
    assert mpdecimal["version"] == "2.5.1"
    assert mpdecimal["cpe"] == "cpe:2.3:a:bytereef:mpdecimal:2.5.1:*:*:*:*:*:*:*"
    assert mpdecimal["licenses"][0]["license"]["id"] == "BSD-2-Clause"
    refs = [item["bom-ref"] for item in cpython["components"]]
    assert all(ref.startswith(cpython["bom-ref"] + "::") for ref in refs)
    assert len(set(refs)) == len(refs)


def test_a_bundled_library_without_a_known_cpe_gets_none() -> None:
    hacl = BundledLibrary("hacl-star", "0.0.1", "MIT OR Apache-2.0", "Modules/_hacl", "_sha2")
    build = replace(BUILD, bundled=(hacl,))
    (part,) = [c for c in cpython_of(document_of(replace(BUILT, build=build)))["components"]
               if c["name"] == "hacl-star"]  # fmt: skip
    assert "cpe" not in part
    assert part["licenses"] == [{"acknowledgement": "concluded", "expression": "MIT OR Apache-2.0"}]


def test_system_libraries_are_named_by_the_build_machine_package() -> None:
    parts = nested(cpython_of(document_of(BUILT, needed=("libc.so.6", "libuuid.so.1"))))
    libssl, libc, zlib = parts["libssl3"], parts["libc6"], parts["zlib"]
    assert libssl["purl"] == "pkg:deb/debian/libssl3@3.0.19-1~deb12u2"
    assert libssl["version"] == "3.0.19-1~deb12u2"
    assert libc["purl"] == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10"
    assert zlib["purl"] == "pkg:rpm/zlib@1.2.13-5.el9"
    found = properties(libssl)
    assert found["srcstacks:system_library:soname"] == "libssl.so.3"
    assert found["srcstacks:system_library:location"] == "deploying machine (not in the archive)"
    assert found["srcstacks:system_library:build_machine_package"] == (
        "libssl3 3.0.19-1~deb12u2 (deb)"
    )
    assert "not in the archive" in libssl["description"]
    # Unknown package: named by its soname, no purl, no version.
    libffi = parts["libffi.so.8"]
    assert "purl" not in libffi and "version" not in libffi
    assert properties(libffi)["srcstacks:system_library:build_machine_package"] == "unknown"
    # A soname the archive needs that the build's record lacks is listed too.
    assert properties(parts["libuuid.so.1"])["srcstacks:system_library:soname"] == "libuuid.so.1"


def test_cpython_depends_on_what_is_nested_in_it() -> None:
    document = json.loads(document_of(BUILT))
    cpython = cpython_of(json.dumps(document))
    graph = {entry["ref"]: entry.get("dependsOn") for entry in document["dependencies"]}
    nested_refs = sorted(item["bom-ref"] for item in cpython["components"])
    assert sorted(graph[cpython["bom-ref"]]) == nested_refs
    # Their own dependencies are not described here: no entry ("unknown"), not an empty
    # one ("none").
    assert not set(nested_refs) & set(graph)


def test_document_is_valid_cyclonedx_and_passes_sbom_check(tmp_path: Path) -> None:
    text = document_of(BUILT)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    path = tmp_path / "cpython-3.11.tar.xz.cdx.json"
    path.write_text(text, encoding="utf-8")
    result = check_document(path)
    assert result.ok, [str(problem) for problem in result.problems]


def test_sbom_check_against_the_archive_ignores_nested_parts(tmp_path: Path) -> None:
    """The runtime archive holds no distributions: nested libraries are not counted."""
    archive = tmp_path / "cpython-3.11.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        data = b"#!/bin/sh\n"
        info = tarfile.TarInfo("cpython-3.11/bin/python3")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
    path = tmp_path / "cpython-3.11.tar.xz.cdx.json"
    path.write_text(document_of(BUILT, archive_sha256=sha256), encoding="utf-8")
    result = check_document(path, read_archive(archive))
    assert result.ok, [str(problem) for problem in result.problems]


def edit_nested(tmp_path: Path, name: str, change: Any) -> list[str]:
    document = json.loads(document_of(BUILT))
    (cpython,) = [c for c in document["components"] if c["name"] == "cpython"]
    change(nested(cpython)[name])
    path = tmp_path / "edited.cdx.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return [str(problem) for problem in check_document(path).problems]


def test_sbom_check_still_wants_a_version_of_every_other_nested_part(tmp_path: Path) -> None:
    """Negative controls for the one exemption (a system library with no known package)."""
    assert edit_nested(tmp_path, "expat", lambda c: c.pop("version")) == [
        "expat ?: missing version ($.components[0].components[0].version)"
    ]
    assert edit_nested(tmp_path, "libssl3", lambda c: c.pop("version")) == [
        "libssl3 ?: missing version ($.components[0].components[3].version)"
    ]

    def claim_unknown_but_keep_purl(component: dict[str, Any]) -> None:
        component.pop("version")
        for prop in component["properties"]:
            if prop["name"] == "srcstacks:system_library:build_machine_package":
                prop["value"] = "unknown"

    assert edit_nested(tmp_path, "libc6", claim_unknown_but_keep_purl) == [
        "libc6 ?: missing version ($.components[0].components[1].version)"
    ]


def test_a_local_tarball_is_named_not_linked() -> None:
    build = replace(BUILD, tarball_origin="python3.11_3.11.2.orig.tar.gz",
                    tarball_filename="python3.11_3.11.2.orig.tar.gz")  # fmt: skip
    record = replace(BUILT, origin="/home/someone/src/python3.11_3.11.2.orig.tar.gz", build=build)
    text = document_of(record)
    assert "/home/someone" not in text
    cpython = cpython_of(text)
    assert "externalReferences" not in cpython
    assert "download_url" not in cpython["pedigree"]["ancestors"][0]["purl"]
    found = properties(cpython)
    assert found["srcstacks:runtime:tarball_filename"] == "python3.11_3.11.2.orig.tar.gz"
    assert found["srcstacks:runtime:origin"] == "python3.11_3.11.2.orig.tar.gz"


def test_same_inputs_same_bytes_whatever_order_the_record_lists() -> None:
    shuffled = replace(
        BUILD,
        bundled=tuple(reversed(BUILD.bundled)),
        system_libraries=tuple(reversed(BUILD.system_libraries)),
        env={"LDFLAGS": "-s", "CFLAGS": "-O2"},
    )
    ordered = replace(BUILD, env={"CFLAGS": "-O2", "LDFLAGS": "-s"})
    assert document_of(BUILT) == document_of(BUILT)
    assert document_of(replace(BUILT, build=shuffled)) == document_of(replace(BUILT, build=ordered))


def test_a_runtime_without_build_has_none_of_the_build_parts() -> None:
    """Negative control: a packed or downloaded runtime only gains the CPE."""
    downloaded = replace(RUNTIME, source="download", origin="https://example.org/cpython.tar.gz")
    for record in (RUNTIME, downloaded):
        cpython = cpython_of(document_of(record))
        assert cpython["cpe"] == "cpe:2.3:a:python:python:3.11.7:*:*:*:*:*:*:*"
        assert "pedigree" not in cpython and "components" not in cpython
        build_parts = ("srcstacks:runtime:configure", "srcstacks:runtime:tarball",
                       "srcstacks:runtime:compiler", "srcstacks:patch:")  # fmt: skip
        assert not [name for name in properties(cpython) if name.startswith(build_parts)]
        references = [item["type"] for item in cpython.get("externalReferences", [])]
        assert "source-distribution" not in references
    assert [item["type"] for item in cpython_of(document_of(downloaded))["externalReferences"]] == [
        "distribution"
    ]


# --- the SBOM stage's part: reading the runtime's patches, keeping machine paths out ---

SPEC = """
[[runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@3.11.2"
requirements = []
"""


def stack_with_patch(tmp_path: Path, text: bytes = PATCH) -> Any:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(SPEC)
    patch = tmp_path / "patches" / PATCH_NAME
    patch.parent.mkdir(parents=True)
    patch.write_bytes(text)
    return load_config(spec)


def test_stage_reads_a_runtime_patch_whose_sha256_matches(tmp_path: Path) -> None:
    config = stack_with_patch(tmp_path)
    info = BuildInfo(variant="cpu", runtimes=(BUILT,))
    said: list[str] = []
    texts = runtime_patch_texts(config, info, config.layers[0], said.append)
    assert texts == {PATCH_NAME: PATCH} and said == []


def test_stage_leaves_out_a_changed_runtime_patch_with_a_warning(tmp_path: Path) -> None:
    config = stack_with_patch(tmp_path, b"--- edited since\n")
    info = BuildInfo(variant="cpu", runtimes=(BUILT,))
    said: list[str] = []
    assert runtime_patch_texts(config, info, config.layers[0], said.append) == {}
    assert said == [
        f"  warning: {tmp_path / 'patches' / PATCH_NAME} changed since the runtime was built;"
        " its text is left out"
    ]


def test_stage_refuses_a_runtime_patch_name_leading_outside(tmp_path: Path) -> None:
    config = stack_with_patch(tmp_path)
    outside = replace(BUILD, patches=(PatchRecord("../venvstacks.toml", "0" * 64),))
    info = BuildInfo(variant="cpu", runtimes=(replace(BUILT, build=outside),))
    message = re.escape("runtime patch '../venvstacks.toml' points outside")
    with pytest.raises(OwnershipError, match=message):
        runtime_patch_texts(config, info, config.layers[0], print)


def test_stage_keeps_the_checkout_folders_out_of_the_build_settings(tmp_path: Path) -> None:
    config = stack_with_patch(tmp_path)
    build = replace(
        BUILD,
        configure_args=("--prefix=/install", f"--with-openssl={tmp_path}/openssl"),
        env={"CFLAGS": f"-O2 -I{tmp_path}/include"},
    )
    portable = portable_runtime(replace(BUILT, build=build), config).build
    assert portable is not None
    assert portable.configure_args == ("--prefix=/install", "--with-openssl=<stack dir>/openssl")
    assert portable.env == {"CFLAGS": "-O2 -I<stack dir>/include"}
    assert portable_runtime(RUNTIME, config) is RUNTIME


def test_cpython_and_what_it_carries_have_the_bsi_fields() -> None:
    """The CPython component and its bundled libraries meet BSI TR-03183-2 (the layer's
    own fields are the SBOM stage's); negative control: a record without the sha512."""
    record = replace(
        BUILT,
        sha512="f" * 128,
        bundled=(
            BundledLibrary(
                "expat", "2.5.0", "MIT", "Modules/expat", "pyexpat", "pyexpat.so",
                "1" * 64, "2" * 128, "libexpat project", "https://libexpat.github.io",
            ),
        ),
    )  # fmt: skip
    document = json.loads(document_of(record))

    def bsi_problems(document: dict[str, Any]) -> list[str]:
        return [
            str(item)
            for item in profile_problems(document, "bsi")
            if not item.where.startswith(("metadata.component", "document"))
        ]

    assert bsi_problems(document) == []
    cpython = cpython_of(json.dumps(document))
    assert properties(cpython)["bsi:component:filename"] == PACKED
    assert cpython["hashes"][1] == {"alg": "SHA-512", "content": "f" * 128}
    # The record's bundled list (read from the seeded runtime) wins over the build's.
    assert [item["name"] for item in cpython["components"] if "bundled" in item["bom-ref"]] == [
        "expat"
    ]
    older = json.loads(document_of(replace(record, sha512="")))
    assert bsi_problems(older) == [
        "cpython 3.11.2: missing SHA-512 hash of the deployable form"
        " ($.components[0].hashes[alg=SHA-512])"
    ]


def test_a_built_cpython_has_a_formula_with_the_system_packages_it_used() -> None:
    used = (
        SystemPackage("gcc-12", "12.2.0-14+deb12u1", "amd64", "deb", ("compiler",),
                      "debian", "bookworm", ("x86_64-linux-gnu-gcc-12",)),
        SystemPackage("libssl-dev", "3.0.19-1~deb12u2", "amd64", "deb", ("development",),
                      "debian", "bookworm", ("libssl.so",)),
    )  # fmt: skip
    record = replace(BUILT, build=replace(BUILD, system_packages=used))
    document = json.loads(document_of(record))
    cpython = cpython_of(json.dumps(document))
    (formula,) = document["formulation"]
    (workflow,) = formula["workflows"]
    assert workflow["name"] == "build CPython 3.11.2 from source with configure and make"
    assert workflow["outputs"] == [{"resource": {"ref": cpython["bom-ref"]}}]
    purls = {c["name"]: c.get("purl") for c in formula["components"]}
    assert purls["libssl-dev"] == (
        "pkg:deb/debian/libssl-dev@3.0.19-1~deb12u2?arch=amd64&distro=bookworm"
    )
    assert "gcc-12" in purls
    # Read back as the build environment it was written from, as verify compares.
    assert environment_of(formula).system_packages == used
    # A record without a build (or written before srcstacks kept them) has no formula.
    assert "formulation" not in json.loads(document_of(replace(BUILT, build=None)))
    # The record keeps them through its JSON form.
    assert CPythonBuild.from_json(record.build.to_json()).system_packages == used  # type: ignore[union-attr]


def test_a_runtime_made_here_is_hashed_by_its_file_list_not_its_unshipped_archive() -> None:
    """A packed or built interpreter's install_only archive never leaves the work dir:
    the component's hash is that of its file list, which the archive can be checked
    against alone; the intermediate archive's digests stay as properties. A downloaded
    runtime keeps the hash of the archive its publisher ships."""
    files = "f" * 64
    for record in (BUILT, replace(BUILT, source="pack", build=None)):
        inputs = replace(layer_inputs("cpython-3.11", "runtime", runtime=record),
                         runtime_files_sha256=files)  # fmt: skip
        cpython = cpython_of(build_document(inputs).text)
        assert cpython["hashes"] == [{"alg": "SHA-256", "content": files}], record.source
        # With the list's SHA-512 (the stage reads the published list), both.
        inputs = replace(inputs, runtime_files_sha512="e" * 128)
        assert cpython_of(build_document(inputs).text)["hashes"] == [
            {"alg": "SHA-256", "content": files},
            {"alg": "SHA-512", "content": "e" * 128},
        ]
        properties = {p["name"]: p["value"] for p in cpython["properties"]}
        assert properties["srcstacks:runtime:archive_sha256"] == "b" * 64
        assert properties["srcstacks:runtime:files_sha256"] == files
    downloaded = replace(BUILT, source="download", build=None, origin="https://example.org/a.tgz")
    inputs = replace(layer_inputs("cpython-3.11", "runtime", runtime=downloaded),
                     runtime_files_sha256=files)  # fmt: skip
    assert cpython_of(build_document(inputs).text)["hashes"] == [
        {"alg": "SHA-256", "content": "b" * 64}
    ]
