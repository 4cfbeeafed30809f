"""Fingerprints of a stage's inputs, stamps of its outputs: what lets a rerun skip it.

Reads and writes ``<work_dir>/<variant>/stage-fingerprints.json`` (``Layout.stage_fingerprints``):
for each stage, the sha256 of its inputs (see :mod:`srcstacks.stage_inputs`) and a stamp
``[sha256, size, mtime_ns]`` of every output file, keyed by a root label and a relative
path (``output/app-greeter.tar.xz``) so a stack folder moved or copied whole keeps them.

A stage is up to date when its inputs hash to the recorded fingerprint AND its output
files are exactly the recorded ones with the recorded sha256 (a file whose size and
mtime still match its stamp is not read again; any other is hashed, so an edited,
added or deleted output is noticed). A stage's record is dropped when it starts and
written only after it succeeded. A record file that cannot be read or parsed counts
as no record: every stage runs, and rewrites it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srcstacks.fsutil import sha256_file, write_json
from srcstacks.layout.ownership import OWNER_MARKER

# [sha256, size in bytes, mtime in ns] of one output file.
Stamp = tuple[str, int, int]


@dataclass(frozen=True)
class StageRecord:
    """What one stage's last successful run saw and left."""

    fingerprint: str
    outputs: dict[str, Stamp]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "fingerprint": self.fingerprint,
            "outputs": {k: list(v) for k, v in self.outputs.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> StageRecord:
        """Parse :meth:`to_json`; raises KeyError, TypeError or ValueError when malformed."""
        outputs: dict[str, Stamp] = {}
        for key, value in data["outputs"].items():
            sha, size, mtime = value
            outputs[str(key)] = (str(sha), int(size), int(mtime))
        fingerprint = data["fingerprint"]
        if not isinstance(fingerprint, str):
            raise TypeError("fingerprint is not a string")
        return cls(fingerprint, outputs)


def fingerprint_of(inputs: Mapping[str, Any]) -> str:
    """sha256 of the inputs as sorted, compact JSON (paths and other values as text)."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def read_records(path: Path) -> dict[str, StageRecord]:
    """Every stage's record; a missing, unreadable or malformed file gives none at all."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(stage): StageRecord.from_json(item) for stage, item in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_record(path: Path, stage: str, record: StageRecord | None) -> None:
    """Set (or with ``None`` drop) one stage's record, keeping the others."""
    records = read_records(path)
    if record is None:
        if stage not in records:
            return
        records.pop(stage)
    else:
        records[stage] = record
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {name: item.to_json() for name, item in sorted(records.items())})


def stamp_files(files: Mapping[str, Path], known: Mapping[str, Stamp]) -> dict[str, Stamp]:
    """Stamp each existing file; reuse a known sha256 while size and mtime still match."""
    stamps: dict[str, Stamp] = {}
    for key, path in sorted(files.items()):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        before = known.get(key)
        if before is not None and before[1:] == (stat.st_size, stat.st_mtime_ns):
            stamps[key] = before
        else:
            stamps[key] = (sha256_file(path), stat.st_size, stat.st_mtime_ns)
    return stamps


def content_digest(stamps: Mapping[str, Stamp]) -> str:
    """One sha256 over the names and contents of stamped files (times left out)."""
    return fingerprint_of({key: stamp[0] for key, stamp in stamps.items()})


def files_under(label: str, folder: Path, *, skip: Iterable[str] = ()) -> dict[str, Path]:
    """Every regular file below ``folder``, keyed ``label/relative/path``.

    Left out: srcstacks' ownership markers, temporaries of atomic writes and any file
    whose name ends with one of ``skip``.
    """
    suffixes = tuple(skip)
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for path in folder.rglob("*"):
        name = path.name
        if name.startswith((OWNER_MARKER, ".srcstacks-stack")) or name.endswith(".part"):
            continue
        if suffixes and name.endswith(suffixes):
            continue
        if path.is_file() and not path.is_symlink():
            found[f"{label}/{path.relative_to(folder).as_posix()}"] = path
    return found


def tree_content(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file below a small input folder (patches)."""
    return {
        key.partition("/")[2]: sha256_file(path) for key, path in files_under("", folder).items()
    }


def path_content(path: Path) -> Any:
    """The content of an input that may be a file, a folder or missing."""
    if path.is_dir():
        return tree_content(path)
    if path.is_file():
        return sha256_file(path)
    return None
