"""Patches to vendored Rust crates: which patches wait for the crates, what applying them
does to cargo's checksums, and how the patched crates are recorded (provenance, SBOM).

The end-to-end case (a patch to the vendored ``itoa`` taking effect at run time) is in
``tests/e2e/test_rust.py``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from srcstacks.spec.patches import patch_targets, vendored_crate_dir
from srcstacks.state.build_record import BuildEnvironment, Crate
from srcstacks.state.wheel_sbom import WheelSbom, parse, render
from srcstacks.tools import crate_patches
from srcstacks.tools.crate_patches import CratePatchError

ITOA = Crate("itoa", "1.0.19", "3b" * 32, "MIT OR Apache-2.0", "crates.io", (), True)

CRATE_PATCH = """--- a/vendor/itoa/src/lib.rs\t2026-01-01 00:00:00
+++ b/vendor/itoa/src/lib.rs\t2026-01-01 00:00:00
@@ -1,2 +1,2 @@
 fn sign() -> u8 {
-    b'-'
+    b'~'
--- a/vendor/itoa/README.md
+++ /dev/null
@@ -1 +0,0 @@
-itoa
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def vendored_itoa(root: Path) -> dict[str, object]:
    """An ``itoa`` crate as ``cargo vendor`` leaves it below ``root``; its checksum file."""
    crate = root / "vendor" / "itoa"
    write(crate / "Cargo.toml", '[package]\nname = "itoa"\nversion = "1.0.19"\n')
    files = {"src/lib.rs": "fn sign() -> u8 {\n    b'-'\n", "README.md": "itoa\n"}
    sums = {name: hashlib.sha256(write(crate / name, text).read_bytes()).hexdigest()
            for name, text in files.items()}  # fmt: skip
    recorded: dict[str, object] = {"files": sums, "package": ITOA.sha256}
    write(crate / ".cargo-checksum.json", json.dumps(recorded))
    return recorded


def test_the_files_a_patch_changes_are_read_as_patch_p1_finds_them() -> None:
    assert patch_targets(CRATE_PATCH) == ("vendor/itoa/src/lib.rs", "vendor/itoa/README.md")
    assert vendored_crate_dir("vendor/itoa/src/lib.rs") == "vendor/itoa"
    assert vendored_crate_dir("rust/vendor/pyo3/src/lib.rs") == "rust/vendor/pyo3"
    assert vendored_crate_dir("src/lib.rs") is None
    assert vendored_crate_dir("vendor/README") is None, "a file beside the crates"


def test_only_patches_to_vendored_crates_wait_and_one_that_also_changes_the_lock_is_refused(
    tmp_path: Path,
) -> None:
    ordinary = write(tmp_path / "0001-own.patch", "--- a/src/lib.rs\n+++ b/src/lib.rs\n")
    assert not crate_patches.defers(ordinary)
    assert crate_patches.defers(write(tmp_path / "0002-itoa.patch", CRATE_PATCH))
    mixed = write(tmp_path / "0003-both.patch",
                  CRATE_PATCH + "--- a/Cargo.lock\n+++ b/Cargo.lock\n")  # fmt: skip
    with pytest.raises(CratePatchError, match=r"0003-both\.patch: .*Cargo\.lock.*split it"):
        crate_patches.defers(mixed)


def test_a_deferred_patch_applies_after_vendoring_and_cargo_checksums_follow(
    tmp_path: Path,
) -> None:
    source = tmp_path / "tinyrs-0.1.0"
    patch = write(tmp_path / "patches" / "0002-itoa.patch", CRATE_PATCH)
    crate_patches.defer(source, patch)
    before = vendored_itoa(source)  # what cargo vendor wrote, after the deferral

    def apply(patch: Path, root: Path) -> None:
        subprocess.run(["patch", "-p1", "-i", str(patch)], cwd=root, check=True,
                       capture_output=True)  # fmt: skip

    # Vendoring happened in a sub folder of another tree: nothing of this one applies.
    assert crate_patches.apply_deferred(tmp_path / "other", apply) == []
    assert crate_patches.apply_deferred(source, apply) == [patch]
    assert crate_patches.apply_deferred(source, apply) == [], "applied once"
    crate = source / "vendor" / "itoa"
    assert "b'~'" in (crate / "src" / "lib.rs").read_text()
    after = json.loads((crate / ".cargo-checksum.json").read_text())
    lib_rs = hashlib.sha256((crate / "src" / "lib.rs").read_bytes()).hexdigest()
    assert after["files"] == {"src/lib.rs": lib_rs}, "changed file re-hashed, deleted one gone"
    assert after["files"]["src/lib.rs"] != before["files"]["src/lib.rs"]  # type: ignore[index]
    assert after["package"] == ITOA.sha256, "the crate as fetched keeps its lock checksum"
    assert crate_patches.patched_crates(source, {"tinyrs/0002-itoa.patch": patch}) == {
        "itoa@1.0.19": ("tinyrs/0002-itoa.patch",)
    }


def test_a_patched_crate_claims_no_hash_of_its_own_and_reads_back(tmp_path: Path) -> None:
    patched = replace(ITOA, patches=("tinyrs/0002-itoa.patch",))
    rust = BuildEnvironment(python="3.11.7", fromager="0.77.0", rustc="1.95.0",
                            cargo="1.95.0", rust_target="x86_64-unknown-linux-gnu")  # fmt: skip
    sbom = WheelSbom("tinyrs", "0.1.0", "cpu", "tinyrs-0.1.0.tar.gz", "b" * 64, (), rust,
                     (patched,))  # fmt: skip
    data = render(sbom, (), "0.77.0", 0)
    assert parse(data).crates == (patched,)
    (itoa,) = json.loads(data)["metadata"]["component"]["components"]
    assert "hashes" not in itoa
    (fetched,) = itoa["pedigree"]["ancestors"]
    assert fetched["hashes"] == [{"alg": "SHA-256", "content": ITOA.sha256}]
    assert itoa["pedigree"]["patches"] == [
        {"type": "unofficial", "diff": {"url": "tinyrs/0002-itoa.patch"}}
    ]
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode()) is None
    # Provenance keeps the patches, and writes none for an unpatched crate.
    assert Crate.from_dict(patched.to_dict()) == patched
    assert "patches" not in ITOA.to_dict()
