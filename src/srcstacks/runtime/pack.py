"""``srcstacks runtime pack``: turn a local CPython installation into a runtime archive.

The archive has python-build-standalone's ``install_only`` layout (``python/bin/python3``,
``python/lib/...``) so venvstacks can use it as a runtime layer. Only the interpreter and
its standard library go in: no site-packages, no test suite, no bundled ensurepip wheels
(those are public binaries). An interpreter built with ``--enable-shared`` finds
libpython through an absolute RUNPATH; that is rewritten relative to ``$ORIGIN`` so the
runtime works wherever it is unpacked. Debug information is stripped from every ELF file
unless asked to keep it (as python-build-standalone's ``install_only_stripped``, which
uv installs by default): in pyenv's CPython 3.11.7 it is half the packed tree (27 of
54 MB), which doubled the time venvstacks takes to compress the runtime layer, and it
names the folder the interpreter was built in.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from srcstacks.errors import RuntimeSourceError
from srcstacks.fsutil import atomic_path, sha256_file
from srcstacks.tools import binutils, patchelf
from srcstacks.tools.process import run_probe

# Folders of the standard library that a deployed runtime does not need.
_SKIPPED_STDLIB_DIRS = frozenset(
    {"site-packages", "test", "idle_test", "tests", "__pycache__", "_bundled", "turtledemo"}
)
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".a", ".o")
_PROBE = """
import json, platform, sys, sysconfig
print(json.dumps({
    "prefix": sys.base_prefix,
    "configure_args": sysconfig.get_config_var("CONFIG_ARGS") or "",
    "compiler": platform.python_compiler(),
    "version": "%d.%d.%d" % sys.version_info[:3],
    "implementation": sys.implementation.name,
    "ldlibrary": sysconfig.get_config_var("LDLIBRARY") or "",
    "platform": sysconfig.get_platform(),
}))
"""


@dataclass(frozen=True)
class InterpreterInfo:
    """What a local interpreter says about itself."""

    prefix: Path
    version: str
    implementation: str
    ldlibrary: str
    platform: str
    # How it was built, as it says (sysconfig's CONFIG_ARGS, platform.python_compiler()).
    configure_args: str = ""
    compiler: str = ""

    @property
    def short_version(self) -> str:
        """``X.Y``."""
        return ".".join(self.version.split(".")[:2])

    def portable_configure_args(self) -> str:
        """Its configure arguments, with its installation folder written ``<prefix>``
        (outputs name no folder of this machine)."""
        return self.configure_args.replace(str(self.prefix), "<prefix>")

    @property
    def archive_name(self) -> str:
        """File name in python-build-standalone's style, marked as locally packed."""
        return self.archive_name_as("local")

    def archive_name_as(self, label: str) -> str:
        """File name in python-build-standalone's style, with ``label`` for its origin."""
        arch = self.platform.replace("-", "_")
        return f"{self.implementation}-{self.version}-{arch}-{label}-install_only.tar.gz"


@dataclass(frozen=True)
class PackedRuntime:
    """A runtime archive made by :func:`pack_runtime`."""

    archive: Path
    sha256: str
    interpreter: InterpreterInfo


def probe_interpreter(interpreter: str) -> InterpreterInfo:
    """Ask ``interpreter`` (a path or a command on PATH) for its prefix and version."""
    found = shutil.which(interpreter) or interpreter
    try:
        output = run_probe([found, "-I", "-c", _PROBE])
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeSourceError(
            f"cannot run interpreter {interpreter!r} to pack it: {exc}"
        ) from None
    data = json.loads(output)
    return InterpreterInfo(
        prefix=Path(data["prefix"]),
        version=data["version"],
        implementation=data["implementation"],
        ldlibrary=data["ldlibrary"],
        platform=data["platform"],
        configure_args=str(data.get("configure_args", "")),
        compiler=str(data.get("compiler", "")),
    )


def pack_runtime(
    interpreter: str,
    dest_dir: Path,
    *,
    epoch: int = 0,
    label: str = "local",
    keep_debug_info: bool = False,
) -> PackedRuntime:
    """Pack the installation of ``interpreter`` into ``dest_dir``; return the archive.

    The archive is reproducible: sorted members, owner 0, every mtime set to ``epoch``.
    ``label`` marks its origin in the file name (``local``: packed; ``srcstacks``: built).
    """
    info = probe_interpreter(interpreter)
    if info.implementation != "cpython":
        raise RuntimeSourceError(
            f"{interpreter}: only CPython can be packed, not {info.implementation}"
        )
    with tempfile.TemporaryDirectory(prefix="srcstacks-runtime-") as scratch:
        staging = Path(scratch) / "python"
        _copy_installation(info, staging)
        binaries = [path for path in sorted(staging.rglob("*")) if patchelf.is_linked_elf(path)]
        _make_relocatable(binaries, staging, info.prefix)
        if not keep_debug_info:
            for path in binaries:
                binutils.strip_debug_info(path)
        archive = dest_dir / info.archive_name_as(label)
        with atomic_path(archive) as tmp:
            _write_tar_gz(staging, tmp, epoch)
    return PackedRuntime(archive=archive, sha256=sha256_file(archive), interpreter=info)


def _copy_installation(info: InterpreterInfo, staging: Path) -> None:
    prefix = info.prefix
    stdlib = prefix / "lib" / f"python{info.short_version}"
    binary = prefix / "bin" / f"python{info.short_version}"
    if not binary.is_file() or not stdlib.is_dir():
        raise RuntimeSourceError(
            f"{prefix}: not a CPython installation (expected {binary} and {stdlib})"
        )
    (staging / "bin").mkdir(parents=True)
    shutil.copy2(binary, staging / "bin" / binary.name)
    for alias in ("python3", "python"):
        (staging / "bin" / alias).symlink_to(binary.name)
    (staging / "lib").mkdir()
    for library in sorted((prefix / "lib").glob("libpython*.so*")):
        target = staging / "lib" / library.name
        if library.is_symlink():
            target.symlink_to(os.readlink(library))
        else:
            shutil.copy2(library, target)
    shutil.copytree(stdlib, staging / "lib" / stdlib.name, ignore=_ignore_unneeded, symlinks=True)
    (staging / "lib" / stdlib.name / "site-packages").mkdir(exist_ok=True)
    headers = prefix / "include"
    if headers.is_dir():
        shutil.copytree(headers, staging / "include", symlinks=True)


def _ignore_unneeded(folder: str, names: list[str]) -> set[str]:
    return {
        name for name in names if name in _SKIPPED_STDLIB_DIRS or name.endswith(_SKIPPED_SUFFIXES)
    }


def _make_relocatable(binaries: list[Path], staging: Path, prefix: Path) -> None:
    """Rewrite every RUNPATH entry of ``binaries`` (the ELF files copied into ``staging``)
    that points into ``prefix`` relative to $ORIGIN."""
    for path in binaries:
        entries = patchelf.read_rpath(path)
        if not any(entry.startswith(str(prefix)) for entry in entries):
            continue
        rewritten = []
        for entry in entries:
            if entry.startswith(str(prefix)):
                inside = staging / Path(entry).relative_to(prefix)
                entry = "$ORIGIN/" + os.path.relpath(inside, path.parent)
            rewritten.append(entry)
        patchelf.set_rpath(path, rewritten)


# How _write_tar_gz packs (cached archives packed another way are packed again).
PACK_FORMAT = "tar.gz, gzip level 1"


def pack_format(keep_debug_info: bool) -> str:
    """How a runtime is packed, for the cache keys of packed and built runtimes."""
    return f"{PACK_FORMAT}, debug info {'kept' if keep_debug_info else 'stripped'}"


def _write_tar_gz(staging: Path, target: Path, epoch: int) -> None:
    def normalise(member: tarfile.TarInfo) -> tarfile.TarInfo:
        member.uid = member.gid = 0
        member.uname = member.gname = ""
        member.mtime = epoch
        return member

    # Level 1: this archive is only unpacked into venvstacks' build dir (the layer archive
    # is venvstacks' xz); level 6 took 3.6 s of a cold demo build's 7 s of packing.
    with (
        target.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch, compresslevel=1) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        root = staging.parent
        for path in [staging, *sorted(staging.rglob("*"))]:
            tar.add(
                path, arcname=path.relative_to(root).as_posix(), recursive=False, filter=normalise
            )
