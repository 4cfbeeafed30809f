"""End-to-end: signed attestations, and `srcstacks audit` on a folder of archives, SBOMs
and attestations alone (issue 23, "Evidence an auditor can check alone").

One copy of the shared build is signed (`srcstacks sbom` with SRCSTACKS_SIGNING_KEY);
its archives, SBOMs and attestations are handed over into an empty folder, with no work
dir, wheel dir, index or spec beside them. Each forgery is made in a copy of that folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from srcstacks.attest import dsse
from srcstacks.attest.keys import SIGNING_KEY_VARIABLE, generate, signing_key
from tests.conftest import BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e

LAYERS = ("app-greeter", "app-punycode", "cpython-3.11", "framework-web")
RUNTIME_FILES = "cpython-3.11.runtime-files.json"


@pytest.fixture(scope="module")
def handed_over(
    built_stack: BuiltStack, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(a folder of the signed archives, SBOMs and attestations alone, the public key)."""
    root = tmp_path_factory.mktemp("signed")
    spec = copy_built_stack(built_stack, root / "stack")
    keygen = run_cli("keygen", root / "stack.key")
    secret = (root / "stack.key").read_text()
    signed = run_cli("sbom", spec, env={SIGNING_KEY_VARIABLE: str(root / "stack.key")})
    assert "signed 4 layer and 3 wheel attestation(s) with key sha256:" in signed.stderr
    # The private key is named, never shown.
    assert secret.splitlines()[1] not in keygen.stdout + keygen.stderr + signed.stderr
    # The report says each archive is signed, by this key, without being given it.
    key_id = signed.stderr.split("with key ", 1)[1].split()[0].rstrip(".,;")
    run_cli("report", spec, "--no-verify", "--output", root / "report.html")
    page = (root / "report.html").read_text(encoding="utf-8")
    assert page.count(f"signed by key {key_id}, for this archive and its SBOM") == 4
    output = spec.parent / "_srcstacks" / "cpu" / "artifacts"
    folder = root / "handed-over"
    folder.mkdir()
    for layer in LAYERS:
        for suffix in (".tar.xz", ".tar.xz.cdx.json", ".tar.xz.intoto.json"):
            shutil.copy2(output / f"{layer}{suffix}", folder)
    # The attestation of each wheel built here (markupsafe, jinja2, idna).
    shutil.copytree(output / "__srcstacks__" / "wheels", folder / "wheels")
    # The runtime's file list, whose sha256 its SBOM pins: the interpreter's files.
    (folder / "__srcstacks__").mkdir()
    shutil.copy2(output / "__srcstacks__" / RUNTIME_FILES, folder / "__srcstacks__")
    return folder, root / "stack.key.pub"


def audit(folder: Path, key: Path) -> subprocess.CompletedProcess[str]:
    result = run_cli("audit", folder, "--key", key, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_the_handed_over_folder_passes_the_audit_alone(handed_over: tuple[Path, Path]) -> None:
    folder, key = handed_over
    assert (
        sorted(path.suffix for path in folder.iterdir()) == [""] * 2 + [".json"] * 8 + [".xz"] * 4
    )
    assert len(list((folder / "wheels").glob("*.whl.intoto.json"))) == 3
    result = audit(folder, key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audited 4 archive(s), 4 SBOM(s), 7 attestation(s), 3 distribution(s)" in result.stderr
    assert ": 0 problem(s)" in result.stderr


def _edit_sbom(layer: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / f"{layer}.tar.xz.cdx.json"
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document, indent=2))

    return edit


def _component(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in document["components"] if c["name"].lower() == name)


def _forge_wheel_hash(document: dict[str, Any]) -> None:
    hashes = _component(document, "markupsafe")["hashes"]
    next(h for h in hashes if h["alg"] == "SHA-256")["content"] = "0" * 64


def _forge_licence(document: dict[str, Any]) -> None:
    licences = _component(document, "markupsafe")["licenses"]
    next(item for item in licences if item["license"]["acknowledgement"] == "concluded")["license"][
        "id"
    ] = "MIT"


def _forge_bom_link(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    framework = next(c for c in document["components"] if c["name"] == "framework-web")[
        "externalReferences"
    ]
    serial = (
        next(ref["url"] for ref in framework if ref["type"] == "bom").split(":")[2].split("/")[0]
    )
    document.clear()
    document.update(json.loads(text.replace(serial, str(uuid.uuid4()))))


def _remove_jinja2(document: dict[str, Any]) -> None:
    document["components"] = [c for c in document["components"] if c["name"].lower() != "jinja2"]


def _unsign(folder: Path) -> None:
    (folder / "app-punycode.tar.xz.intoto.json").unlink()


def _drop_a_wheel_attestation(folder: Path) -> None:
    (attestation,) = (folder / "wheels").glob("idna-*.intoto.json")
    attestation.unlink()


def _resign_with_another_key(folder: Path) -> None:
    """Edit the SBOM, then sign a statement naming its new sha256 with a key of one's own."""
    sbom = folder / "app-punycode.tar.xz.cdx.json"
    sbom.write_text(sbom.read_text().replace("idna", "idna-forged"))
    attestation = folder / "app-punycode.tar.xz.intoto.json"
    statement = json.loads(base64.b64decode(json.loads(attestation.read_text())["payload"]))
    for subject in statement["subject"]:
        if subject["name"] == sbom.name:
            subject["digest"]["sha256"] = hashlib.sha256(sbom.read_bytes()).hexdigest()
    generate(folder.parent / "forger.key")
    key = signing_key({SIGNING_KEY_VARIABLE: str(folder.parent / "forger.key")})
    assert key is not None
    attestation.write_text(dsse.sign(json.dumps(statement).encode(), key))


def _edit_runtime_files(folder: Path) -> None:
    """Claim another content for the interpreter's binary in its file list."""
    path = folder / "__srcstacks__" / RUNTIME_FILES
    listed = json.loads(path.read_text())
    listed["files"]["bin/python3.11"] = "sha256=" + "A" * 43
    path.write_text(json.dumps(listed))


def _drop_runtime_files(folder: Path) -> None:
    (folder / "__srcstacks__" / RUNTIME_FILES).unlink()


FORGERIES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "forged wheel hash": (
        _edit_sbom("framework-web", _forge_wheel_hash),
        [
            "framework-web.tar.xz.cdx.json: its sha256 is not the one signed",
            f"framework-web.tar.xz: markupsafe 3.0.4: framework-web.tar.xz.cdx.json gives its"
            f" wheel sha256 {'0' * 64}, the signed attestation ",
        ],
    ),
    "wrong but valid licence": (
        _edit_sbom("framework-web", _forge_licence),
        [
            "framework-web.tar.xz.cdx.json: its sha256 is not the one signed",
            "framework-web.tar.xz: markupsafe 3.0.4: framework-web.tar.xz.cdx.json gives its"
            " licences as MIT (concluded), BSD-3-Clause (declared); its METADATA and licence"
            " files give BSD-3-Clause (concluded), BSD-3-Clause (declared)",
        ],
    ),
    "BOM-link to the wrong serial": (
        _edit_sbom("app-greeter", _forge_bom_link),
        ["app-greeter.tar.xz.cdx.json: BOM-link urn:cdx:"],
    ),
    "removed component": (
        _edit_sbom("app-greeter", _remove_jinja2),
        [
            "app-greeter.tar.xz: jinja2 3.1.6 is installed, but app-greeter.tar.xz.cdx.json"
            " has no component for it"
        ],
    ),
    "unsigned SBOM": (
        _unsign,
        [
            "app-punycode.tar.xz: named by no attestation signed with this key",
            "app-punycode.tar.xz.cdx.json: named by no attestation signed with this key",
        ],
    ),
    "unsigned wheel": (
        _drop_a_wheel_attestation,
        [
            "idna-3.11-0-py3-none-any.whl: built here, but no attestation of its build"
            " signed with this key"
        ],
    ),
    "edited runtime file list": (
        _edit_runtime_files,
        [
            f"__srcstacks__/{RUNTIME_FILES}: its sha256 is not the one"
            " cpython-3.11.tar.xz.cdx.json pins"
        ],
    ),
    "missing runtime file list": (
        _drop_runtime_files,
        [
            f"cpython-3.11.tar.xz: its interpreter's file list __srcstacks__/{RUNTIME_FILES} is not"
            " in the folder"
        ],
    ),
    "re-signed SBOM": (
        _resign_with_another_key,
        [
            "app-punycode.tar.xz.intoto.json: not signed by key sha256:",
            "app-punycode.tar.xz.cdx.json: named by no attestation signed with this key",
        ],
    ),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_each_forgery_fails_the_audit_with_a_line_naming_it(
    handed_over: tuple[Path, Path], tmp_path: Path, forgery: str
) -> None:
    folder = tmp_path / "audited"
    shutil.copytree(handed_over[0], folder)
    forge, expected = FORGERIES[forgery]
    forge(folder)
    result = audit(folder, handed_over[1])
    assert result.returncode == 1
    mismatches = [line for line in result.stdout.splitlines() if line.startswith("MISMATCH ")]
    for fragment in expected:
        assert any(fragment in line for line in mismatches), (fragment, mismatches)
    assert "srcstacks: error: audit failed:" in result.stderr
