"""Sdists of the packages the tests make themselves (``tests/fixtures/packages/``).

Each is packed the way a build backend would (``<name>-<version>/`` with a ``PKG-INFO``),
byte for byte the same every time: sorted members, fixed times, owners and modes, and a
gzip header without a date, so that its sha256 and every wheel built from it are stable.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import tomllib
from pathlib import Path

PACKAGES = Path(__file__).parent / "fixtures" / "packages"


def make_sdist(package: str, dest: Path, tree: Path | None = None) -> Path:
    """Pack ``tests/fixtures/packages/<package>`` (or ``tree``) as an sdist in ``dest``."""
    source = tree or PACKAGES / package
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    base = f"{project['name'].replace('-', '_')}-{project['version']}"
    pkg_info = (
        f"Metadata-Version: 2.4\nName: {project['name']}\nVersion: {project['version']}\n"
    ).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, f"{base}/PKG-INFO", pkg_info)
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            if "target" in path.relative_to(source).parts or path.suffix == ".pyc":
                continue
            _add(tar, f"{base}/{path.relative_to(source).as_posix()}", path.read_bytes())
    dest.mkdir(parents=True, exist_ok=True)
    sdist = dest / f"{base}.tar.gz"
    with sdist.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(buffer.getvalue())
    return sdist


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))
