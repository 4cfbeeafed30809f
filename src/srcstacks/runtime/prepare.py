"""The runtime layer's CPython: where it comes from, and handing it to venvstacks.

Five sources (``[tool.srcstacks.runtime] source``):

- ``download``: venvstacks downloads python-build-standalone itself.
- ``mirror``: the same, from ``mirror_url`` (``PBS_INSTALLER_BASE_URL``).
- ``local``: an ``install_only``-layout CPython, a folder or a ``.tar.gz``.
- ``pack``: srcstacks packs a local interpreter (see :mod:`runtime_pack`) and uses that.
- ``build``: srcstacks builds CPython from its source tarball (see :mod:`runtime_build`).

For ``local``, ``pack`` and ``build`` the interpreter is seeded into venvstacks' build dir as
``cpython@X.Y.Z/`` before every lock and build; venvstacks then uses it instead of
downloading. Every source is recorded in ``<work_dir>/<variant>/runtime.json`` with the
sha256 and sha512 of what was used and the third-party code inside the interpreter
(:mod:`srcstacks.runtime.contents`), for the SBOM; a seeded runtime's file list is recorded in
``<work_dir>/<variant>/runtime-files/<layer>.json``, for verify.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from srcstacks.errors import RuntimeSourceError, StateError
from srcstacks.fsutil import sha256_file, write_json
from srcstacks.layout import Layout
from srcstacks.layout.ownership import remove_file, remove_tree
from srcstacks.reporting import Report
from srcstacks.runtime.build import build_runtime
from srcstacks.runtime.contents import bundled_code
from srcstacks.runtime.interpreters import runtime_interpreter
from srcstacks.runtime.pack import (
    InterpreterInfo,
    pack_format,
    pack_runtime,
    probe_interpreter,
)
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.state.records import BundledLibrary, RuntimeRecord, read_runtime_records
from srcstacks.state.runtime_files import list_tree, read_list, work_list_path, write_list
from srcstacks.tools.process import run_probe


def discard_layer_envs(config: StackConfig, names: Collection[str] | None = None) -> None:
    """Remove the layer environments venvstacks left in its build dir, so it makes them anew.

    venvstacks clamps archive mtimes to the lock time only from above, so anything
    created *before* the lock time keeps its own time. The lock stage creates the
    runtime layer's environment (``share/venv/metadata``, say) just before it stamps the
    lock; a build from committed locks creates it after. Rebuilding every environment
    from scratch gives both the same archive, and keeps leftovers of an earlier lock out.
    ``names``: only those layers' environments (the ones about to be built again).
    """
    layout = Layout.of(config)
    for layer in config.layers:
        if names is not None and layer.env_name not in names:
            continue
        remove_tree(layout.layer_env(layer.env_name))
        remove_tree(layout.layer_env(f"{layer.env_name}.last-build.json"))


def runtime_env(config: StackConfig) -> dict[str, str]:
    """Extra environment for venvstacks: the runtime source, no bytecode, no installer notes.

    ``UV_NO_INSTALLER_METADATA``: uv otherwise writes ``uv_cache.json`` into every
    installed dist-info, holding the wheel file's inode change time, so a copied or
    restored wheel dir would give other archives from the same wheels and locks (and
    ``INSTALLER``/``REQUESTED`` say nothing an SBOM or verify needs).

    venvstacks clamps archive mtimes to the lock time, but only from above: a folder
    of the runtime that Python touches while locking (writing ``__pycache__`` into
    ``encodings/``, say) would keep that earlier, ever-different time and make the
    runtime archive differ between otherwise identical builds.
    """
    env = {"PYTHONDONTWRITEBYTECODE": "1", "UV_NO_INSTALLER_METADATA": "1"}
    # venvstacks downloads every runtime with one base URL: the first mirror's.
    for _, source in config.runtime_sources:
        if source.kind == "mirror" and source.mirror_url:
            env["PBS_INSTALLER_BASE_URL"] = source.mirror_url
            break
    return env


def prepare_runtimes(config: StackConfig, report: Report = print) -> list[RuntimeRecord]:
    """Make each runtime layer's interpreter available to venvstacks; record its origin."""
    records = [_prepare(config, layer, report) for layer in config.layers_of("runtime")]
    write_json(Layout.of(config).runtime_record, [record.to_json() for record in records])
    return records


def _prepare(config: StackConfig, layer: Layer, report: Report) -> RuntimeRecord:
    assert layer.python_implementation is not None
    source = config.runtime_of(layer)
    if source.kind in ("download", "mirror"):
        url, sha256 = _standalone_download(layer.python_implementation, source.mirror_url)
        return RuntimeRecord(
            layer.name,
            layer.python_implementation,
            source.kind,
            url,
            url.rsplit("/", 1)[-1],
            sha256,
        )
    build = None
    packed: InterpreterInfo | None = None
    if source.kind == "pack":
        archive, origin, packed = _packed_archive(config, layer, report)
    elif source.kind == "build":
        built = build_runtime(config, layer, report)
        archive, build = built.archive, built.build
        origin = built.build.tarball_origin
    else:
        assert source.path is not None
        archive, origin = source.path, source.path.as_posix()
    seeded = _seed(config, layer, archive)
    # The interpreter's own files, as seeded: verify accounts for the runtime archive's
    # files with this list (see runtime_files).
    write_list(work_list_path(Layout.of(config), layer.env_name), list_tree(seeded))
    if archive.is_dir():
        digest, digest512 = _tree_digest(seeded), _tree_digest(seeded, "sha512")
    else:
        digest, digest512 = sha256_file(archive), _file_digest(archive, "sha512")
    debug_info = ""  # only srcstacks' own packing strips (local is used as it is)
    if source.kind in ("pack", "build"):
        debug_info = "kept" if source.keep_debug_info else "stripped"
    return RuntimeRecord(
        layer.name, layer.python_implementation, source.kind, origin, archive.name, digest,
        build, sha512=digest512, bundled=_bundled_in(seeded, layer),
        debug_info=debug_info,
        # A packed interpreter's own account of how it was built (a built one's is `build`).
        configure_args=packed.portable_configure_args() if packed else "",
        compiler=packed.compiler if packed else "",
    )  # fmt: skip


def with_bundled_code(config: StackConfig, records: list[RuntimeRecord]) -> list[RuntimeRecord]:
    """``records``, each with the third-party code its interpreter carries.

    A downloaded runtime's interpreter exists only once venvstacks has installed it (the
    lock stage), so its record is completed here, from that installation, by the
    archives stage; a record that has it already is kept as it is.
    """
    layout = Layout.of(config)
    completed = []
    for record in records:
        layer = next((item for item in config.layers if item.name == record.layer), None)
        installed = layout.seeded_runtime(record.python_implementation)
        if not record.bundled and layer is not None and installed.is_dir():
            record = replace(record, bundled=_bundled_in(installed, layer))
        completed.append(record)
    return completed


def _bundled_in(prefix: Path, layer: Layer) -> tuple[BundledLibrary, ...]:
    """The third-party code inside the runtime unpacked at ``prefix``."""
    try:
        return bundled_code(prefix / "bin" / "python3")
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        raise RuntimeSourceError(
            f"{prefix}: cannot ask the runtime of layer {layer.name!r} what it carries: {exc}"
        ) from None


def _file_digest(path: Path, algorithm: str) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, algorithm).hexdigest()


def _standalone_download(implementation: str, mirror_url: str | None) -> tuple[str, str]:
    """The python-build-standalone file venvstacks will fetch, and its expected sha256."""
    from pbs_installer import get_download_link  # venvstacks' own downloader

    name, _, version = implementation.partition("@")
    try:
        _, (url, sha256) = get_download_link(
            version, implementation="pypy" if name == "pypy" else "cpython", build_dir=False
        )
    except Exception as exc:
        raise RuntimeSourceError(
            f"python-build-standalone has no build for {implementation}: {exc}"
        ) from None
    if mirror_url:
        url = mirror_url.rstrip("/") + "/" + url.rsplit("/", 1)[-1]
    return url, sha256 or ""


def _packed_archive(
    config: StackConfig, layer: Layer, report: Report
) -> tuple[Path, str, InterpreterInfo]:
    interpreter = str(runtime_interpreter(config, layer, exact=True).path)
    info = probe_interpreter(interpreter)
    if info.version != layer.python_version:
        raise RuntimeSourceError(
            f"runtime layer {layer.name!r} wants {layer.python_implementation} but"
            f" {interpreter} is Python {info.version}: set"
            " [tool.srcstacks.runtime] interpreter to a matching one"
        )
    dest = Layout.of(config).packed_runtimes
    archive = dest / info.archive_name
    stamp = archive.with_name(archive.name + ".origin")
    # The pack format is part of the cache key: an archive packed another way (an older
    # srcstacks' gzip level) would give another sha256 than a rebuild's.
    keep_debug_info = config.runtime_of(layer).keep_debug_info
    origin = f"{info.prefix}\n{pack_format(keep_debug_info)}"
    if archive.exists() and stamp.exists() and stamp.read_text() == origin:
        return archive, info.archive_name, info
    report(f"packing the local CPython {info.version} at {info.prefix} into {archive.name}")
    packed = pack_runtime(interpreter, dest, keep_debug_info=keep_debug_info)
    stamp.write_text(origin)
    # The origin names the file, not this machine's interpreter path, to keep outputs portable.
    return packed.archive, info.archive_name, info


def _seed(config: StackConfig, layer: Layer, archive: Path) -> Path:
    """Put the interpreter where venvstacks looks before downloading one.

    A runtime archive already unpacked there by the previous seed (the lock stage's,
    for the archives stage of the same build) is kept when nothing in it changed: the
    same archive, every file and link as listed then, every entry still dated 1970.
    """
    layout = Layout.of(config)
    target = layout.seeded_runtime(str(layer.python_implementation))
    stamp = target.with_name(target.name + ".seeded-from")
    origin = sha256_file(archive) if archive.is_file() else None
    if origin is not None and _seeded_intact(target, stamp, origin, layout, layer):
        _check_version(target, layer, archive)
        return target
    remove_file(stamp)
    remove_tree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if archive.is_dir():
        shutil.copytree(archive, target, symlinks=True)
    elif archive.is_file():
        _extract_install_only(archive, target)
    else:
        raise RuntimeSourceError(f"{archive}: runtime archive not found")
    _check_version(target, layer, archive)
    _reset_mtimes(target)
    if origin is not None:
        stamp.write_text(origin, encoding="utf-8")
    return target


def _seeded_intact(target: Path, stamp: Path, origin: str, layout: Layout, layer: Layer) -> bool:
    """Whether ``target`` is exactly what unpacking the archive ``origin`` left."""
    try:
        if stamp.read_text(encoding="utf-8") != origin:
            return False
    except OSError:
        return False
    listed = read_list(work_list_path(layout, layer.env_name))
    if listed is None or not target.is_dir():
        return False
    for path in [target, *target.rglob("*")]:
        if path.lstat().st_mtime_ns != 0:  # touched since (see _reset_mtimes)
            return False
    return list_tree(target) == listed


def _reset_mtimes(folder: Path) -> None:
    """Date every entry of the seeded runtime 1970, symlinks and folders included.

    Extraction leaves symlinks (and anything else it cannot date) at the current time,
    which falls before or after the lock time depending on the run; at time 0 every
    entry is older than any lock, so venvstacks' mtime clamp treats them all alike.
    """
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (0, 0), follow_symlinks=False)


def _extract_install_only(archive: Path, target: Path) -> None:
    staging = target.with_name(target.name + ".unpacking")
    remove_tree(staging)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            if not members or not all(
                member.name == "python" or member.name.startswith("python/") for member in members
            ):
                raise RuntimeSourceError(
                    f"{archive}: not an install_only runtime archive (expected a python/ folder)"
                )
            tar.extractall(staging, filter="tar")
    except (tarfile.TarError, EOFError, OSError) as exc:
        remove_tree(staging)
        raise RuntimeSourceError(f"{archive}: corrupt runtime archive: {exc}") from None
    os.replace(staging / "python", target)
    remove_tree(staging)


def _check_version(prefix: Path, layer: Layer, origin: Path) -> None:
    python = prefix / "bin" / "python3"
    try:
        # -B: no bytecode written into the seeded runtime.
        output = run_probe(
            [str(python), "-I", "-B", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeSourceError(
            f"{origin}: the runtime's bin/python3 does not run: {exc}"
        ) from None
    found = output.strip()
    if found != layer.python_version:
        raise RuntimeSourceError(
            f"{origin}: runtime is Python {found} but layer {layer.name!r} wants"
            f" {layer.python_implementation}"
        )


def _tree_digest(folder: Path, algorithm: str = "sha256") -> str:
    """A digest over the sorted relative paths and contents of a folder (each file's
    content by its sha256, whatever ``algorithm`` the whole is)."""
    digest = hashlib.new(algorithm)
    for path in sorted(folder.rglob("*")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode())
        elif path.is_file():
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def runtimes_for(
    config: StackConfig, redone: Collection[str], report: Report
) -> list[RuntimeRecord]:
    """The runtime records, preparing (packing, seeding) the runtime only when needed.

    venvstacks makes a runtime layer's environment from the seeded interpreter only
    when that layer is redone (its environment is then made anew) or the environment
    is missing. Otherwise the runtime's source is unchanged (it is an input of every
    layer) and its records are the ones the last preparation wrote (``runtime.json``).
    """
    layout = Layout.of(config)
    runtimes = config.layers_of("runtime")
    in_place = all(
        layer.env_name not in redone
        and layout.layer_env(layer.env_name).is_dir()
        and layout.seeded_runtime(str(layer.python_implementation)).is_dir()
        for layer in runtimes
    )
    try:
        records = read_runtime_records(layout.runtime_record) if in_place else []
    except StateError:
        records = []
    if in_place and {record.layer for record in records} == {layer.name for layer in runtimes}:
        return records
    return prepare_runtimes(config, report)
