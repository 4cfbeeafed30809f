"""Account for every file in a layer archive: each must come from somewhere we can name.

Reads nothing itself: it is given an archive's members (:mod:`archive_reader`), the
wheels its distributions were installed from, the runtime's file list
(:mod:`runtime_files`) and venvstacks' post-install script. Every file and symlink of
the archive must be one of:

1. a file of a published wheel, by that wheel's ``RECORD`` (content compared), or a file
   the installer writes for an installed wheel (:data:`INSTALLER_FILES`, entry-point
   launchers in ``bin/``);
2. a file of the runtime's own file list (content or link target compared);
3. a file venvstacks itself writes into a layer (:data:`VENVSTACKS_FILES`, the wrapper
   and links of :func:`_venv_files`, an application's launch and support modules).

Anything else (a ``.pth`` file, a ``sitecustomize.py``, a stray ``__pycache__``) is
unaccounted, and named.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from srcstacks.archive_reader import ArchiveContents, InstalledDist, WheelFiles, record_digest
from srcstacks.tools.venvstacks import LayerMetadata

# Files venvstacks writes into every layer it archives, and why they are there.
VENVSTACKS_FILES = {
    "postinstall.py": "venvstacks' post-install script (recreates pyvenv.cfg on deployment)",
    "share/venv/metadata/venvstacks_layer.json": "venvstacks' layer config for postinstall.py",
}
# Files an installer (uv) adds to or rewrites in an installed wheel's .dist-info.
INSTALLER_FILES = {
    "INSTALLER": "names the installer",
    "REQUESTED": "marks a requested distribution",
    "RECORD": "rewritten by the installer with the installed paths",
    "direct_url.json": "where the installer got the wheel",
    "uv_cache.json": "uv's cache key for the installed wheel",
}
_MAX_LISTED = 20
_MODULE_HASH = "venvstacks-module:"


@dataclass(frozen=True)
class InstalledWheel:
    """One distribution in the archive with the published wheel it was installed from."""

    dist: InstalledDist
    wheel_name: str
    files: WheelFiles


@dataclass(frozen=True)
class _Expected:
    entry: str | None  # "sha256=..." or "symlink:<target>"; None: accounted by name only
    source: str  # what put it there, for messages
    wheel_path: str | None = None  # its path in the wheel, when a wheel put it there

    def differs(self, shown: str) -> str:
        """``<path> differs from <where it came from>``."""
        if self.wheel_path is not None:
            return f"{self.wheel_path} differs from the file in {self.source}"
        return f"{shown} differs from {self.source}"

    def missing(self, shown: str) -> str:
        """``<path> from <where it came from> is missing``."""
        return f"{self.wheel_path or shown} from {self.source} is missing"


def account_for_files(
    contents: ArchiveContents,
    layer: LayerMetadata,
    wheels: list[InstalledWheel],
    runtime_files: dict[str, str] | None,
    postinstall: bytes | None,
) -> list[str]:
    """Every problem with the archive's files: unaccounted, differing or missing ones.

    ``runtime_files`` is the runtime's own file list (runtime layers only);
    ``postinstall`` venvstacks' script as this srcstacks installs it, when it is the
    venvstacks version that built the archive (else the script is accounted by name).
    """
    name = contents.archive.name
    root = layer.install_target
    site = _site_packages(layer)
    expected: dict[str, _Expected] = {}
    for relative, reason in VENVSTACKS_FILES.items():
        expected[relative] = _Expected(None, f"venvstacks ({reason})")
    if postinstall is not None:
        digest = record_digest(postinstall)
        expected["postinstall.py"] = _Expected(digest, "venvstacks' postinstall.py")
    if runtime_files is not None:
        for relative, entry in runtime_files.items():
            expected[relative] = _Expected(entry, "the runtime's file list")
    else:
        expected.update(_venv_files(layer, site))
    for wheel in wheels:
        expected.update(_wheel_files(wheel, site))
    problems: list[str] = []
    found: dict[str, str] = {}
    for member, entry in sorted(contents.members.items()):
        top, _, relative = member.partition("/")
        if top != root or (not relative.strip("/") and entry != "dir"):
            problems.append(f"{name}: {member} lies outside the layer's folder {root}/")
        elif entry != "dir" and relative:
            found[relative.rstrip("/")] = entry
    unaccounted = []
    for relative, entry in sorted(found.items()):
        want = _lookup(expected, relative)
        if want is None:
            unaccounted.append(relative)
        elif not _matches(want, relative, entry):
            problems.append(f"{name}: {want.differs(f'{root}/{relative}')}")
    for relative in unaccounted[:_MAX_LISTED]:
        problems.append(
            f"{name}: {root}/{relative} is unaccounted for (in no wheel's RECORD, not in the"
            " runtime's file list, not a file venvstacks writes)"
        )
    if len(unaccounted) > _MAX_LISTED:
        problems.append(f"{name}: and {len(unaccounted) - _MAX_LISTED} more unaccounted file(s)")
    for relative, want in sorted(expected.items()):
        if relative not in found and want.entry is not None and not _optional(want):
            # A wheel file missing from the archive, or a runtime file.
            problems.append(f"{name}: {want.missing(f'{root}/{relative}')}")
    return problems


def _optional(want: _Expected) -> bool:
    # venvstacks' own files and installer files vary by layer kind and installer.
    return want.source.startswith(("venvstacks", "the installer"))


def _site_packages(layer: LayerMetadata) -> str:
    version = layer.python_implementation.partition("@")[2]
    short = ".".join(version.split(".")[:2]) or "3"
    return f"lib/python{short}/site-packages"


def _venv_files(layer: LayerMetadata, site: str) -> dict[str, _Expected]:
    """What venvstacks writes into a framework or application layer (a virtual env)."""
    short = site.split("/")[1]  # python3.11
    runtime_python = f"../../{layer.runtime_layer}/bin/python"
    files = {
        "bin/python": _Expected(None, "venvstacks (wrapper script adding lower layers' libs)"),
        "bin/python3": _Expected("symlink:python", "venvstacks (link to the wrapper)"),
        f"bin/{short}": _Expected("symlink:python", "venvstacks (link to the wrapper)"),
        "bin/python_": _Expected(f"symlink:{runtime_python}", "venvstacks (the runtime's python)"),
        "lib64": _Expected("symlink:lib", "venvstacks (the venv's lib64 link)"),
    }
    modules = []
    if layer.app_launch_module:
        modules.append((layer.app_launch_module, str(layer.raw.get("app_launch_module_hash", ""))))
    for support in layer.raw.get("app_support_modules", []) or []:
        if isinstance(support, dict):
            modules.append((str(support.get("name", "")), str(support.get("hash", ""))))
    for module, module_hash in modules:
        reason = f"venvstacks (the application's module {module}, hashed in its metadata)"
        files[f"{site}/{module}.py"] = _Expected(_MODULE_HASH + module_hash, reason)
        # A package module is accounted by its folder, file by file, by name.
        files[f"{site}/{module}/"] = _Expected(None, reason)
    return files


def _wheel_files(wheel: InstalledWheel, site: str) -> dict[str, _Expected]:
    files: dict[str, _Expected] = {}
    source = wheel.wheel_name
    data_dir = f"{wheel.dist.dist_info.removesuffix('.dist-info')}.data/"
    for path, digest in wheel.files.record.items():
        if path.startswith(data_dir):
            scheme, _, rest = path[len(data_dir) :].partition("/")
            target = {
                "purelib": f"{site}/{rest}",
                "platlib": f"{site}/{rest}",
                "data": rest,
                "headers": f"include/site/{site.split('/')[1]}/{wheel.dist.name}/{rest}",
                "scripts": f"bin/{rest}",
            }.get(scheme)
            if target is not None:
                # Installers rewrite a script's #! line: accounted by name.
                entry = None if scheme == "scripts" else digest
                files[target] = _Expected(entry, source, path)
            continue
        in_dist_info = path.startswith(wheel.dist.dist_info + "/")
        if in_dist_info and PurePosixPath(path).name == "RECORD":
            continue
        files[f"{site}/{path}"] = _Expected(digest, source, path)
    for name, reason in INSTALLER_FILES.items():
        files[f"{site}/{wheel.dist.dist_info}/{name}"] = _Expected(
            None, f"the installer ({reason})"
        )
    for script in _launchers(wheel.files.entry_points):
        files[f"bin/{script}"] = _Expected(None, f"the installer (entry point of {source})")
    return files


def _launchers(entry_points: str) -> list[str]:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(entry_points)
    except configparser.Error:
        return []
    return [
        name.strip()
        for section in ("console_scripts", "gui_scripts")
        if parser.has_section(section)
        for name in parser.options(section)
    ]


def _lookup(expected: dict[str, _Expected], relative: str) -> _Expected | None:
    """The entry for ``relative``, or the folder entry (``x/``) it lies in."""
    if relative in expected:
        return expected[relative]
    parts = relative.split("/")
    for end in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:end]) + "/"
        if folder in expected:
            return expected[folder]
    return None


def _matches(want: _Expected, relative: str, entry: str) -> bool:
    if want.entry is None:
        return True
    if want.entry.startswith(_MODULE_HASH):
        return _venvstacks_module_hash(relative, entry) == want.entry[len(_MODULE_HASH) :]
    return want.entry == entry


def _venvstacks_module_hash(relative: str, entry: str) -> str:
    """venvstacks' ``hash_file_name_and_contents`` of a file, from its RECORD digest."""
    if not entry.startswith("sha256="):
        return ""
    encoded = entry[len("sha256=") :]
    content_hex = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).hex()
    name = PurePosixPath(relative).name
    return "sha256:" + hashlib.sha256(name.encode() + f"sha256:{content_hex}".encode()).hexdigest()
