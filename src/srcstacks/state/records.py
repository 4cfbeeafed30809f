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
from srcstacks.state.build_record import SystemPackage


@dataclass(frozen=True)
class PatchRecord:
    """One patch applied to CPython's source, in the order applied."""

    name: str  # file name inside the patches folder, e.g. "cpython/0001-fix.patch"
    sha256: str


@dataclass(frozen=True)
class BundledLibrary:
    """Third-party code compiled into CPython from its own source tree (expat, libmpdec)."""

    name: str
    version: str  # as the built interpreter reports it, never from a table
    license: str  # SPDX id
    where: str  # the source folder it comes from, e.g. "Modules/expat"; "" if linked in
    module: str  # the extension module it is built into, e.g. "pyexpat"
    # The file that carries it (the module, or libpython for a built-in one) and its
    # digests; "" in records written before srcstacks recorded them.
    filename: str = ""
    sha256: str = ""
    sha512: str = ""
    supplier: str = ""  # the project that makes it, e.g. "libexpat project"
    supplier_url: str = ""

    @classmethod
    def from_json(cls, data: Any) -> BundledLibrary:
        """Rebuild from its JSON form; the later fields may be absent (older records)."""
        return cls(**{
            name: str(data[name])
            for name in cls.__dataclass_fields__
            if name in data or name in _BUNDLED_REQUIRED
        })  # fmt: skip


_BUNDLED_REQUIRED = ("name", "version", "license", "where", "module")


@dataclass(frozen=True)
class SystemLibrary:
    """A shared library the built interpreter loads from the machine it runs on."""

    soname: str
    # The Debian (or RPM) package that provided it on the build machine, where the
    # machine can say; empty when it cannot.
    package: str = ""
    package_version: str = ""
    package_manager: str = ""  # "deb" or "rpm"


@dataclass(frozen=True)
class CPythonBuild:
    """How srcstacks built a runtime's CPython from its source tarball (source = "build")."""

    version: str
    tarball_origin: str  # the URL as the spec gives it, or the local tarball's file name
    tarball_filename: str
    tarball_sha256: str
    patches: tuple[PatchRecord, ...]
    configure_args: tuple[str, ...]  # every argument configure got, srcstacks' own first
    env: dict[str, str]  # from build-settings/cpython.yaml for the variant
    compiler: str  # e.g. "gcc (Debian 12.2.0-14+deb12u1) 12.2.0"
    source_date_epoch: str
    bundled: tuple[BundledLibrary, ...]
    system_libraries: tuple[SystemLibrary, ...]
    inputs_sha256: str  # the cache key: tarball, patches, settings, toolchain, recipe
    # The system packages the build used (compiler, linker, development files, run-time
    # libraries), as :mod:`srcstacks.tools.build_packages` names them; none in records
    # written before srcstacks kept them.
    system_packages: tuple[SystemPackage, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON form (sorted keys are left to the writer)."""
        data = asdict(self)
        data["system_packages"] = [package.to_dict() for package in self.system_packages]
        if not self.system_packages:
            del data["system_packages"]  # records without any keep the bytes they had
        return data

    @classmethod
    def from_json(cls, data: Any) -> CPythonBuild:
        """Rebuild from :meth:`to_json` (raises KeyError/TypeError when malformed)."""
        return cls(
            version=str(data["version"]),
            tarball_origin=str(data["tarball_origin"]),
            tarball_filename=str(data["tarball_filename"]),
            tarball_sha256=str(data["tarball_sha256"]),
            patches=tuple(PatchRecord(str(p["name"]), str(p["sha256"])) for p in data["patches"]),
            configure_args=tuple(str(arg) for arg in data["configure_args"]),
            env={str(key): str(value) for key, value in data["env"].items()},
            compiler=str(data["compiler"]),
            source_date_epoch=str(data["source_date_epoch"]),
            bundled=tuple(BundledLibrary.from_json(item) for item in data["bundled"]),
            system_libraries=tuple(
                SystemLibrary(
                    **{name: str(item[name]) for name in SystemLibrary.__dataclass_fields__}
                )
                for item in data["system_libraries"]
            ),
            inputs_sha256=str(data["inputs_sha256"]),
            system_packages=tuple(
                SystemPackage.from_dict(item) for item in data.get("system_packages", ())
            ),
        )


@dataclass(frozen=True)
class RuntimeRecord:
    """Where one runtime layer's interpreter came from."""

    layer: str
    python_implementation: str
    source: str  # download | mirror | local | pack | build
    origin: str  # URL, local path, packed interpreter, or the built tarball's origin
    filename: str
    sha256: str  # of the archive used (python-build-standalone's, packed or built)
    build: CPythonBuild | None = None  # source = "build": how it was built
    # sha512 of the same archive; "" for a downloaded one (venvstacks downloads it into a
    # temporary file, and python-build-standalone publishes only its sha256).
    sha512: str = ""
    # The third-party code inside the interpreter, read from it (runtime_contents), for
    # every source; empty in records written before, or when it could not be asked.
    bundled: tuple[BundledLibrary, ...] = ()
    # pack and build: "stripped" when srcstacks took the debug information out of the
    # interpreter's binaries (the default), "kept" when not; "" for the other sources.
    debug_info: str = ""
    # pack: the interpreter's configure arguments (its folder as ``<prefix>``) and the
    # compiler that built it, as it says itself; "" for the other sources.
    configure_args: str = ""
    compiler: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON form; ``build`` only for a runtime srcstacks built."""
        data: dict[str, Any] = {name: getattr(self, name) for name in _RUNTIME_RECORD_TEXT_FIELDS}
        if self.build is not None:
            data["build"] = self.build.to_json()
        if self.sha512:
            data["sha512"] = self.sha512
        if self.bundled:
            data["bundled"] = [asdict(library) for library in self.bundled]
        for name in ("debug_info", "configure_args", "compiler"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        return data

    @classmethod
    def from_json(cls, data: Any) -> RuntimeRecord:
        """Rebuild a record from its JSON form (raises KeyError/TypeError when malformed)."""
        build = data.get("build")
        return cls(
            **{name: str(data[name]) for name in _RUNTIME_RECORD_TEXT_FIELDS},
            build=CPythonBuild.from_json(build) if build is not None else None,
            sha512=str(data.get("sha512", "")),
            bundled=tuple(BundledLibrary.from_json(item) for item in data.get("bundled", [])),
            debug_info=str(data.get("debug_info", "")),
            configure_args=str(data.get("configure_args", "")),
            compiler=str(data.get("compiler", "")),
        )


_RUNTIME_RECORD_TEXT_FIELDS = (
    "layer",
    "python_implementation",
    "source",
    "origin",
    "filename",
    "sha256",
)


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
    # Layer (install target) -> sha256 of the provenance records of the wheels its lock
    # installs: what that layer's SBOM pins, so a wheel of another layer changing
    # leaves its SBOM as it is.
    layer_provenance_sha256: dict[str, str] = field(default_factory=dict)

    def provenance_pin(self, layer: str) -> str:
        """The provenance sha256 the SBOM of ``layer`` pins (the stack's, if unrecorded)."""
        return self.layer_provenance_sha256.get(layer, self.provenance_sha256)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written beside the archives."""
        return {
            "variant": self.variant,
            "runtimes": [record.to_json() for record in self.runtimes],
            "tools": dict(sorted(self.tools.items())),
            "provenance_sha256": self.provenance_sha256,
            "runtime_files": dict(sorted(self.runtime_files.items())),
            "layer_provenance_sha256": dict(sorted(self.layer_provenance_sha256.items())),
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
            layer_provenance_sha256={
                str(key): str(value)
                for key, value in data.get("layer_provenance_sha256", {}).items()
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
    except (KeyError, TypeError, AttributeError) as exc:
        raise StateError(
            f"{path}: malformed runtime record ({type(exc).__name__}: {exc});"
            " rerun 'srcstacks lock'"
        ) from None
