"""An SBOM left beside an archive it no longer describes is removed when archives are published."""

from __future__ import annotations

import json
from pathlib import Path

from srcstacks.archives.stage import _remove_stale_sboms
from srcstacks.fsutil import sha256_file
from srcstacks.layout import sbom_path
from srcstacks.layout.ownership import claim_dir


def write_sbom_for(archive: Path, sha256: str) -> Path:
    sbom = sbom_path(archive)
    component = {"name": archive.name, "hashes": [{"alg": "SHA-256", "content": sha256}]}
    sbom.write_text(json.dumps({"metadata": {"component": component}}))
    return sbom


def test_only_sboms_of_changed_archives_are_removed(tmp_path: Path) -> None:
    claim_dir(tmp_path, "output dir")  # as the archives stage does before publishing
    kept_archive = tmp_path / "app-a.tar.xz"
    kept_archive.write_bytes(b"unchanged")
    changed_archive = tmp_path / "app-b.tar.xz"
    changed_archive.write_bytes(b"rebuilt")
    kept = write_sbom_for(kept_archive, sha256_file(kept_archive))
    stale = write_sbom_for(changed_archive, "0" * 64)
    unreadable = sbom_path(tmp_path / "app-c.tar.xz")
    (tmp_path / "app-c.tar.xz").write_bytes(b"c")
    unreadable.write_text("{not json")
    messages: list[str] = []

    _remove_stale_sboms([kept_archive, changed_archive, tmp_path / "app-c.tar.xz"], messages.append)

    assert kept.exists()
    assert not stale.exists() and not unreadable.exists()
    assert messages == [
        "  removed app-b.tar.xz.cdx.json: it described an earlier app-b.tar.xz",
        "  removed app-c.tar.xz.cdx.json: it described an earlier app-c.tar.xz",
    ]
