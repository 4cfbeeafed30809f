"""srcstacks' own state and record files as typed values, and one reader for them all.

- ``runtime.json`` in the work dir and the ``runtimes`` list of ``build.json``:
  :class:`RuntimeRecord`, where each runtime layer's interpreter came from (written by
  the lock and archives stages, read by the SBOM stage).
- ``__srcstacks__/build.json`` in the output dir: :class:`BuildInfo`, how the archives
  were made (written by the archives stage, read by the SBOM stage and verify).
- :func:`read_json_state` reads any JSON state file; a corrupt or unreadable one is a
  one-line :class:`StateError` naming the file and what to rerun, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from srcstacks.errors import StageOrderError, StateError


@dataclass(frozen=True)
class RuntimeRecord:
    """Where one runtime layer's interpreter came from."""

    layer: str
    python_implementation: str
    source: str  # download | mirror | local | pack
    origin: str  # URL, local path or packed interpreter
    filename: str
    sha256: str  # of the archive used (python-build-standalone's, or the packed one)

    @classmethod
    def from_json(cls, data: Any) -> RuntimeRecord:
        """Rebuild a record from its JSON form (raises KeyError/TypeError when malformed)."""
        return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class BuildInfo:
    """``__srcstacks__/build.json``: how the published archives were made."""

    variant: str
    runtimes: tuple[RuntimeRecord, ...]
    tools: dict[str, str] = field(default_factory=dict)
    # sha256 of this stack's provenance records (provenance.records_digest): editing
    # them after the build is caught by verify.
    provenance_sha256: str = ""
    # Runtime layer (install target) -> sha256 of its published file list (runtime_files).
    runtime_files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written beside the archives."""
        return {
            "variant": self.variant,
            "runtimes": [asdict(record) for record in self.runtimes],
            "tools": dict(sorted(self.tools.items())),
            "provenance_sha256": self.provenance_sha256,
            "runtime_files": dict(sorted(self.runtime_files.items())),
        }

    def runtime_of(self, layer: str) -> RuntimeRecord | None:
        """The record of the runtime layer called ``layer`` (its spec name)."""
        return next((record for record in self.runtimes if record.layer == layer), None)


def read_json_state(path: Path, what: str, rerun: str) -> Any:
    """Parse the JSON file ``path``; ``None`` when it does not exist.

    ``what`` names the file for the user ("build record"), ``rerun`` the command that
    writes it again; a file that cannot be read or parsed is a :class:`StateError`.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(
            f"{path}: unreadable {what} ({exc}); remove it and rerun '{rerun}'"
        ) from None


def read_build_info(path: Path) -> BuildInfo:
    """Read ``build.json``; missing means the archives stage has not run."""
    data = read_json_state(path, "build record", "srcstacks archives")
    if data is None:
        raise StageOrderError(f"{path}: no build record (run 'srcstacks archives')")
    try:
        return BuildInfo(
            variant=str(data["variant"]),
            runtimes=tuple(RuntimeRecord.from_json(item) for item in data.get("runtimes", [])),
            tools={str(key): str(value) for key, value in data.get("tools", {}).items()},
            provenance_sha256=str(data.get("provenance_sha256", "")),
            runtime_files={
                str(key): str(value) for key, value in data.get("runtime_files", {}).items()
            },
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise StateError(
            f"{path}: malformed build record ({type(exc).__name__}: {exc});"
            " rerun 'srcstacks archives'"
        ) from None


def read_runtime_records(path: Path) -> list[RuntimeRecord]:
    """Read ``runtime.json`` (empty when the runtimes were not prepared yet)."""
    data = read_json_state(path, "runtime record", "srcstacks lock")
    try:
        return [RuntimeRecord.from_json(item) for item in data or []]
    except (KeyError, TypeError) as exc:
        raise StateError(
            f"{path}: malformed runtime record ({type(exc).__name__}: {exc});"
            " rerun 'srcstacks lock'"
        ) from None
