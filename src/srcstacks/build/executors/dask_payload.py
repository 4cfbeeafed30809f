"""What travels to a Dask worker with each build, and what a worker's result must match.

Workers share no filesystem with the coordinator: the stack's build settings and patches
travel as one tar (:func:`make_payload`, :func:`unpack_payload`), made the same way
every time so equal folders give equal bytes. The coordinator also sends which Python
and platform it builds for (:class:`Interpreter`): a worker running another one, or a
wheel whose tags the coordinator's Python would not install, is refused
(:func:`interpreter_mismatch`, :func:`wheel_tag_mismatch`), since a wheel built for
another ABI must never be published. Reads the two folders; writes only into the
folder it unpacks to. Imports no Dask.
"""

from __future__ import annotations

import io
import json
import sys
import sysconfig
import tarfile
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import sys_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from srcstacks.errors import ConfigError
from srcstacks.tools.process import run_probe

SETTINGS = "settings"
PATCHES = "patches"


@dataclass(frozen=True)
class Interpreter:
    """The Python a wheel is built for: implementation, version, platform, and its tags."""

    implementation: str  # sys.implementation.name: "cpython"
    python_version: str  # major.minor: "3.11"
    platform: str  # sysconfig.get_platform(): "linux-x86_64"
    tags: tuple[str, ...]  # every tag this Python installs, most specific first

    @classmethod
    def here(cls) -> Interpreter:
        """The Python running this code."""
        return cls(
            implementation=sys.implementation.name,
            python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
            platform=sysconfig.get_platform(),
            tags=tuple(str(tag) for tag in sys_tags()),
        )

    @classmethod
    def of(cls, python: Path) -> Interpreter:
        """The Python ``python`` runs (a build toolchain's), as it describes itself."""
        import packaging

        # packaging is pure Python: this one serves an interpreter that has none.
        ours = str(Path(packaging.__file__).parent.parent)
        output = run_probe([str(python), "-I", "-c", _DESCRIBE, ours], timeout=60)
        data = json.loads(output)
        return cls(data["implementation"], data["python_version"], data["platform"],
                   tuple(data["tags"]))  # fmt: skip

    def describe(self) -> str:
        return f"{self.implementation} {self.python_version} on {self.platform}"


# What Interpreter.here() says, said by another Python (packaging is in every toolchain;
# without it, the one running srcstacks is borrowed: argv[1] is its folder).
_DESCRIBE = """
import json, sys, sysconfig
try:
    from packaging.tags import sys_tags
except ImportError:
    sys.path.append(sys.argv[1])
    from packaging.tags import sys_tags
print(json.dumps({
    "implementation": sys.implementation.name,
    "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
    "platform": sysconfig.get_platform(),
    "tags": [str(tag) for tag in sys_tags()],
}))
"""


Versions = tuple[tuple[str, str], ...]  # (tool, version) pairs


def tool_versions(fromager_version: str | None = None) -> Versions:
    """The versions of the tools that shape a wheel: srcstacks and the Fromager it drives
    (``fromager_version``: a build toolchain's, else the one installed here)."""
    from srcstacks import __version__
    from srcstacks.tools import fromager

    return (("srcstacks", __version__), ("fromager", fromager_version or fromager.version()))


def versions_mismatch(
    worker: tuple[tuple[str, str], ...], wanted: tuple[tuple[str, str], ...]
) -> str:
    """Why a worker with these tool versions must not build for the coordinator ('' if it may)."""
    differ = [
        f"{name} {dict(worker).get(name, 'missing')} (the coordinator has {version})"
        for name, version in wanted
        if dict(worker).get(name) != version
    ]
    return f"the worker runs {', '.join(differ)}" if differ else ""


def interpreter_mismatch(worker: Interpreter, wanted: Interpreter) -> str:
    """Why a worker running ``worker`` must not build for ``wanted`` ('' when it may)."""
    if (worker.implementation, worker.python_version, worker.platform) != (
        wanted.implementation,
        wanted.python_version,
        wanted.platform,
    ):
        return (
            f"the worker runs {worker.describe()}, the coordinator builds for {wanted.describe()}"
        )
    if worker.tags[:1] != wanted.tags[:1]:
        return (
            f"the worker's Python builds {worker.tags[0] if worker.tags else 'no'} wheels,"
            f" the coordinator's {wanted.tags[0] if wanted.tags else 'none'}"
        )
    return ""


def wheel_tag_mismatch(wheel_filename: str, wanted: Interpreter) -> str:
    """Why the coordinator's Python would not install ``wheel_filename`` ('' when it would)."""
    try:
        _, _, _, tags = parse_wheel_filename(wheel_filename)
    except InvalidWheelFilename as exc:
        return f"{wheel_filename} is not a wheel file name ({exc})"
    if any(str(tag) in wanted.tags for tag in tags):
        return ""
    return (
        f"{wheel_filename} is tagged {', '.join(sorted(str(tag) for tag in tags))},"
        f" which {wanted.describe()} does not install"
    )


def make_payload(settings_dir: Path, patches_dir: Path) -> bytes:
    """The build settings and patches as one tar: regular files only, fixed metadata."""
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for prefix, folder in ((SETTINGS, settings_dir), (PATCHES, patches_dir)):
            _add_folder(archive, prefix, folder)
    return stream.getvalue()


def _add_folder(archive: tarfile.TarFile, prefix: str, folder: Path) -> None:
    archive.addfile(_entry(prefix, tarfile.DIRTYPE, 0))
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        name = f"{prefix}/{path.relative_to(folder).as_posix()}"
        if path.is_dir():
            archive.addfile(_entry(name, tarfile.DIRTYPE, 0))
        elif path.is_file():  # symlinks are read through: the worker gets the content
            data = path.read_bytes()
            archive.addfile(_entry(name, tarfile.REGTYPE, len(data)), io.BytesIO(data))


def _entry(name: str, kind: bytes, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 0
    return info


def unpack_payload(data: bytes, into: Path) -> tuple[Path, Path]:
    """Unpack a payload into ``into``; its settings folder and its patches folder.

    Tar's ``data`` filter refuses members that would land outside ``into`` (``..``,
    absolute names, links out), so a payload can only ever write below it.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            archive.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ConfigError(f"the build settings and patches sent to the worker: {exc}") from None
    settings, patches = into / SETTINGS, into / PATCHES
    settings.mkdir(exist_ok=True)
    patches.mkdir(exist_ok=True)
    return settings, patches
