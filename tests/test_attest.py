"""The signing key, DSSE envelopes and in-toto statements (srcstacks.attest)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from srcstacks.attest import dsse
from srcstacks.attest.keys import (
    SIGNING_KEY_VARIABLE,
    generate,
    key_id,
    read_public_key,
    signing_key,
)
from srcstacks.attest.statement import LayerBuild, Subject, read_statement
from srcstacks.errors import AttestationError
from srcstacks.state.provenance import PatchRecord, SdistRecord, WheelProvenance


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "stack.key"
    generate(path)
    return path


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(
    key_file: Path,
) -> None:
    assert key_file.stat().st_mode & 0o777 == 0o600
    public = read_public_key(key_file.with_name("stack.key.pub"))
    private = signing_key({SIGNING_KEY_VARIABLE: str(key_file)})
    assert private is not None and key_id(private.public_key()) == key_id(public)
    with pytest.raises(AttestationError, match=r"stack\.key: already exists"):
        generate(key_file)


def test_keygen_makes_a_missing_folder_only_its_owner_lists(tmp_path: Path) -> None:
    generate(tmp_path / "keys" / "stack.key")
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "keys" / "stack.key.pub").is_file()


def test_no_variable_no_key_and_each_bad_key_is_one_line_without_its_content(
    key_file: Path, tmp_path: Path
) -> None:
    assert signing_key({}) is None
    secret = key_file.read_text()
    os.chmod(key_file, 0o644)
    with pytest.raises(AttestationError) as readable:
        signing_key({SIGNING_KEY_VARIABLE: str(key_file)})
    assert "can be read by other users (mode 0644); run 'chmod 600" in str(readable.value)
    garbled = tmp_path / "garbled.key"
    garbled.write_text(secret[:60])
    garbled.chmod(0o600)
    with pytest.raises(AttestationError) as bad:
        signing_key({SIGNING_KEY_VARIABLE: str(garbled)})
    assert "not an unencrypted Ed25519 private key in PEM form" in str(bad.value)
    missing = tmp_path / "missing.key"
    with pytest.raises(AttestationError, match="cannot read the signing key"):
        signing_key({SIGNING_KEY_VARIABLE: str(missing)})
    for message in (str(readable.value), str(bad.value)):
        assert secret.splitlines()[1] not in message


def test_an_envelope_opens_only_with_its_key_and_unchanged(key_file: Path, tmp_path: Path) -> None:
    key = signing_key({SIGNING_KEY_VARIABLE: str(key_file)})
    assert key is not None
    text = dsse.sign(b'{"a":1}', key)
    assert dsse.sign(b'{"a":1}', key) == text  # Ed25519 is deterministic: reproducible
    assert dsse.open_envelope(text, key.public_key()) == b'{"a":1}'
    other = tmp_path / "other.key"
    generate(other)
    other_public = read_public_key(tmp_path / "other.key.pub")
    with pytest.raises(
        AttestationError, match=r"not signed by key sha256:[0-9a-f]{64} \(signed by"
    ):
        dsse.open_envelope(text, other_public)
    envelope = json.loads(text)
    envelope["payload"] = base64.b64encode(b'{"a":2}').decode()
    with pytest.raises(AttestationError, match="does not verify"):
        dsse.open_envelope(json.dumps(envelope), key.public_key())
    with pytest.raises(AttestationError, match="not a DSSE envelope"):
        dsse.open_envelope("{}", key.public_key())


def markupsafe(**changes: Any) -> WheelProvenance:
    """A patched markupsafe built here from its sdist, as provenance records it."""
    return WheelProvenance(
        filename="markupsafe-3.0.4-0_ab-cp311-cp311-linux_x86_64.whl",
        project="markupsafe",
        version="3.0.4",
        build_tag="0_ab",
        sha256="1" * 64,
        variant="cpu",
        sdist=SdistRecord(
            "https://files.example/markupsafe-3.0.4.tar.gz", "markupsafe-3.0.4.tar.gz", "2" * 64
        ),
        patches=(PatchRecord("patches/markupsafe/0001.patch", "3" * 64),),
        built_from_source=True,
        **changes,
    )


def test_a_layer_statement_names_archive_sbom_wheels_sources_patches_and_lower_layers() -> None:
    wheel = markupsafe()
    build = LayerBuild(
        archive=Subject("framework-web.tar.xz", "4" * 64),
        sbom=Subject("framework-web.tar.xz.cdx.json", "5" * 64),
        layer="framework-web",
        kind="framework",
        variant="cpu",
        mode="full",
        wheels=(wheel,),
        lower_layers=(Subject("cpython-3.11.tar.xz", "6" * 64),),
        tools={"venvstacks": "0.8.0b2", "srcstacks": "0.2.0"},
    )
    statement = json.loads(build.payload())
    dependencies = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert [
        (d["name"], d["digest"]["sha256"][0], d["annotations"]["kind"]) for d in dependencies
    ] == [
        (wheel.filename, "1", "wheel"),
        ("markupsafe-3.0.4.tar.gz", "2", "sdist"),
        ("patches/markupsafe/0001.patch", "3", "patch"),
        ("cpython-3.11.tar.xz", "6", "layer-archive"),
    ]
    assert dependencies[0]["annotations"]["origin"] == "built-from-source"
    assert dependencies[1]["uri"] == "https://files.example/markupsafe-3.0.4.tar.gz"
    read = read_statement(build.payload())
    assert read.subjects == {
        "framework-web.tar.xz": "4" * 64,
        "framework-web.tar.xz.cdx.json": "5" * 64,
    }
    assert read.wheels == {wheel.filename: "1" * 64}
    with pytest.raises(ValueError, match="not an in-toto statement"):
        read_statement(json.dumps({**statement, "_type": "x"}).encode())


def test_the_signing_keys_name_never_reaches_a_tool(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from srcstacks.tools.process import tool_env

    monkeypatch.setenv(SIGNING_KEY_VARIABLE, str(key_file))
    assert SIGNING_KEY_VARIABLE not in tool_env()


def test_a_wheel_statement_names_its_sources_build_tools_and_builder() -> None:
    from srcstacks.attest.statement import WheelBuild
    from srcstacks.state.build_record import BuildEnvironment, BuildTool

    tool = BuildTool("setuptools", "80.9.0", "setuptools-80.9.0-0-py3-none-any.whl", "7" * 64,
                     "build-system")  # fmt: skip
    wheel = markupsafe(
        build_settings_sha256="4" * 64,
        build_environment=BuildEnvironment(tools=(tool,), python="3.11.7", fromager="0.77.0"),
    )
    statement = WheelBuild(wheel).statement()
    definition = statement["predicate"]["buildDefinition"]
    assert [(d["name"], d["annotations"]["kind"]) for d in definition["resolvedDependencies"]] == [
        ("markupsafe-3.0.4.tar.gz", "sdist"),
        ("patches/markupsafe/0001.patch", "patch"),
        ("setuptools-80.9.0-0-py3-none-any.whl", "build-tool"),
    ]
    assert definition["internalParameters"]["build_settings_sha256"] == "4" * 64
    assert statement["predicate"]["runDetails"]["builder"]["version"] == {
        "fromager": "0.77.0",
        "python": "3.11.7",
    }
    read = read_statement(WheelBuild(wheel).payload())
    assert read.of_a_wheel and read.subjects == {wheel.filename: "1" * 64}


def test_the_report_says_who_signed_an_archive_and_whether_it_is_for_it(
    key_file: Path, tmp_path: Path
) -> None:
    from srcstacks.fsutil import sha256_file
    from srcstacks.report.attestation import attestation_status

    archive = tmp_path / "framework-web.tar.xz"
    sbom = tmp_path / "framework-web.tar.xz.cdx.json"
    archive.write_bytes(b"archive")
    sbom.write_text("{}")
    assert attestation_status(archive, sbom).startswith("none: built without a signing key")
    build = LayerBuild(
        archive=Subject(archive.name, sha256_file(archive)),
        sbom=Subject(sbom.name, sha256_file(sbom)),
        layer="framework-web", kind="framework", variant="cpu", mode="full",
        wheels=(), lower_layers=(), tools={},
    )  # fmt: skip
    key = signing_key({SIGNING_KEY_VARIABLE: str(key_file)})
    assert key is not None
    envelope = tmp_path / "framework-web.tar.xz.intoto.json"
    envelope.write_text(dsse.sign(build.payload(), key))
    status = attestation_status(archive, sbom)
    assert status.startswith(f"signed by key {key_id(key.public_key())}, for this archive")
    sbom.write_text('{"edited": true}')
    assert "is for other files than this archive and its SBOM" in attestation_status(archive, sbom)
    envelope.write_text("not json")
    assert attestation_status(archive, sbom).startswith(
        "unreadable framework-web.tar.xz.intoto.json"
    )
