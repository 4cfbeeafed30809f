"""Build the runtime layer's CPython from its source tarball (``source = "build"``).

Reads the spec's ``tarball`` and ``sha256`` (:mod:`srcstacks.runtime.source`), the
patches Fromager's layout rules select for ``cpython`` (``patches/cpython/``,
``patches/cpython-<version>/``, a ``<variant>/`` subfolder of either) and
``build-settings/cpython.yaml`` for the variant. Writes:

- ``<work_dir>/runtimes/built/<inputs>/``: the ``install_only`` archive venvstacks seeds
  from, and ``cpython-build.json`` (:class:`srcstacks.state.records.CPythonBuild`);
- ``<work_dir>/runtime-build/<inputs>/``: the unpacked tree while it builds, removed
  once the archive is made (kept after a failure, for its logs and objects);
- ``<variant>/logs/cpython-{patch,configure,make,install}.log``.

``<inputs>`` is the sha256 of everything that decides the result (tarball, patches,
configure options, environment, compiler, ``SOURCE_DATE_EPOCH``, this recipe): a rerun
with the same inputs reuses the archive instead of compiling for minutes.

Reproducible by construction: ``SOURCE_DATE_EPOCH`` (``__DATE__`` in ``sys.version``),
``-ffile-prefix-map`` for the tree's path in debug info and ``__FILE__``, no PGO unless
the settings ask for it, a fixed prefix (``/install``, as python-build-standalone), the
text files that record the build folder rewritten to the mapped path, no bytecode in
the archive, and a check that no packed binary names the build folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from srcstacks.errors import ConfigError, RuntimeBuildError, StateError
from srcstacks.fsutil import dump_json, sha256_bytes, sha256_file, write_json
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir, remove_tree
from srcstacks.reporting import Report
from srcstacks.runtime import built_cpython
from srcstacks.runtime import source as cpython_source
from srcstacks.runtime.pack import pack_format, pack_runtime
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.spec.patches import applicable_patches
from srcstacks.spec.settings import CPYTHON_SETTINGS, CPythonSettings, read_cpython_settings
from srcstacks.state.records import (
    CPythonBuild,
    PatchRecord,
    read_json_state,
)
from srcstacks.tools import cpython_build, patchelf
from srcstacks.tools.build_packages import changes_here, packages_used_here
from srcstacks.tools.fromager import DEFAULT_SOURCE_DATE_EPOCH

# Bump when the steps below change what comes out: it is part of every cache key.
# 2: no test suite (--disable-test-modules); 3: packed at gzip level 1 (the pack format is
# in the key now: pack_format).
RECIPE = "3"
PREFIX = "/install"
OWN_CONFIGURE_ARGS = (f"--prefix={PREFIX}", "--enable-shared", "--without-ensurepip")
# Defaults the settings may override (configure takes the last of two options): a
# deployed runtime needs no test suite. Lib/test and the other tests folders are half of
# the standard library's files, and ``make install`` byte-compiles each three times;
# Debian ships them apart too (libpython3.X-testsuite).
DEFAULT_CONFIGURE_ARGS = ("--disable-test-modules",)
# Options srcstacks sets itself: the packing and the relocatable layout depend on them.
_OWNED_OPTIONS = (
    "--prefix", "--exec-prefix", "--enable-shared", "--disable-shared", "--with-ensurepip",
    "--without-ensurepip", "--libdir", "--bindir", "--with-platlibdir",
)  # fmt: skip
_OWNED_DIRECTORIES = ("--prefix", "--exec-prefix", "--libdir", "--bindir")
RECORD_NAME = "cpython-build.json"
ARCHIVE_LABEL = "srcstacks"
_PROGRESS_SECONDS = 30


@dataclass(frozen=True)
class BuiltRuntime:
    """An install_only archive srcstacks built, and how."""

    archive: Path
    build: CPythonBuild


@dataclass(frozen=True)
class _Inputs:
    """Everything that decides the built runtime, and the cache key made of it."""

    tarball: cpython_source.Tarball
    version: str
    patches: tuple[Path, ...]
    patch_records: tuple[PatchRecord, ...]
    settings: CPythonSettings
    configure_args: tuple[str, ...]
    compiler: str
    source_date_epoch: str
    # Optional modules' headers this machine lacks: installing one changes the build.
    missing_optional: tuple[cpython_build.Header, ...]
    keep_debug_info: bool

    @property
    def key(self) -> str:
        return sha256_bytes(
            dump_json({
                "recipe": RECIPE,
                "tarball_sha256": self.tarball.sha256,
                "version": self.version,
                "patches": [[p.name, p.sha256] for p in self.patch_records],
                "configure_args": list(self.configure_args),
                "env": self.settings.env,
                "compiler": self.compiler,
                "source_date_epoch": self.source_date_epoch,
                "machine": os.uname().machine,
                "missing_headers": [header.include for header in self.missing_optional],
                "pack_format": pack_format(self.keep_debug_info),
            }).encode()
        )  # fmt: skip


def runtime_build_inputs(config: StackConfig) -> set[tuple[str, str]]:
    """``("cpython", version)`` of each runtime this stack builds from source, for the
    checks that name patch folders and settings files nothing uses."""
    return {
        (CPYTHON_SETTINGS, layer.python_version)
        for layer, source in config.runtime_sources
        if source.kind == "build" and layer.python_version is not None
    }


def build_runtime(config: StackConfig, layer: Layer, report: Report) -> BuiltRuntime:
    """CPython for ``layer`` built from the spec's tarball, or the cached build of the
    same inputs."""
    inputs = _gather_inputs(config, layer)
    layout = Layout.of(config)
    cached = _cached(layout, inputs.key)
    if cached is not None and (changed := changes_here(cached.build.system_packages)):
        report(f"  CPython {inputs.version} was {changed}: building it again")
        cached = None
    if cached is not None:
        report(
            f"reusing CPython {inputs.version} built from {inputs.tarball.filename}"
            f" (same tarball, patches, settings and compiler; {cached.archive.name})"
        )
        return cached
    return _build(config, layout, inputs, report)


def _gather_inputs(config: StackConfig, layer: Layer) -> _Inputs:
    version = layer.python_version
    assert version is not None
    settings = read_cpython_settings(config.settings_dir, config.variant)
    _check_configure_args(settings)
    tarball = cpython_source.obtain_tarball(config.runtime_of(layer), Layout.of(config))
    patches = tuple(
        applicable_patches(config.patches_dir, CPYTHON_SETTINGS, version, config.variant)
    )
    records = tuple(
        PatchRecord(path.relative_to(config.patches_dir).as_posix(), sha256_file(path))
        for path in patches
    )
    env = _build_env_of(settings)
    missing = cpython_build.missing_headers(cpython_build.REQUIRED_HEADERS, env)
    if missing:
        raise RuntimeBuildError(
            "cannot build CPython: missing headers "
            + ", ".join(f"{h.include} (for {h.module}; Debian: {h.package})" for h in missing)
            + f"; install them (apt-get install {' '.join(h.package for h in missing)})"
        )
    return _Inputs(
        tarball=tarball,
        version=version,
        patches=patches,
        patch_records=records,
        settings=settings,
        configure_args=(*OWN_CONFIGURE_ARGS, *DEFAULT_CONFIGURE_ARGS, *settings.configure_args),
        compiler=cpython_build.compiler_version(env),
        source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH),
        missing_optional=tuple(cpython_build.missing_headers(cpython_build.OPTIONAL_HEADERS, env)),
        keep_debug_info=config.runtime_of(layer).keep_debug_info,
    )


def _check_configure_args(settings: CPythonSettings) -> None:
    for arg in settings.configure_args:
        if _owned_option(arg):
            raise ConfigError(
                f"{settings.path}: configure option {arg!r} is set by srcstacks itself"
                f" ({' '.join(OWN_CONFIGURE_ARGS)}): the packed runtime's layout depends on it"
            )


def _owned_option(arg: str) -> bool:
    """Whether configure would read ``arg`` as one of :data:`_OWNED_OPTIONS`.

    autoconf's configure takes one or two dashes, ``_`` for ``-`` and the directory
    options abbreviated (``--pre=/opt`` is ``--prefix=/opt``).
    """
    if not arg.startswith("-"):
        return False
    option = "--" + arg.lstrip("-").split("=", 1)[0].replace("_", "-")
    if option in _OWNED_OPTIONS:
        return True
    return len(option) > 2 and any(owned.startswith(option) for owned in _OWNED_DIRECTORIES)


def _cached(layout: Layout, key: str) -> BuiltRuntime | None:
    folder = layout.built_runtime(key)
    record_path = folder / RECORD_NAME
    data = read_json_state(record_path, "CPython build record", "srcstacks lock")
    if data is None:
        return None
    try:
        archive = folder / str(data["archive"])
        build = CPythonBuild.from_json(data["build"])
        expected = str(data["sha256"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise StateError(f"{record_path}: malformed CPython build record ({exc})") from None
    if archive.is_file() and sha256_file(archive) == expected:
        return BuiltRuntime(archive, build)
    return None


def _build(config: StackConfig, layout: Layout, inputs: _Inputs, report: Report) -> BuiltRuntime:
    started = time.monotonic()
    for header in inputs.missing_optional:
        report(
            f"note: {header.include} not found: the built CPython has no {header.module}"
            f" module (Debian: {header.package})"
        )
    tree_dir = layout.runtime_build_tree(inputs.key)
    remove_tree(tree_dir)
    claim_dir(tree_dir, "CPython build folder")
    report(f"building CPython {inputs.version} from {inputs.tarball.filename} in {tree_dir}")
    tree = cpython_source.unpack(inputs.tarball, tree_dir / "src")
    if tree.version != inputs.version:
        raise RuntimeBuildError(
            f"{inputs.tarball.origin} is CPython {tree.version}, but the runtime layer wants"
            f" {inputs.version}: point 'tarball' at Python-{inputs.version}'s source"
        )
    for patch, record in zip(inputs.patches, inputs.patch_records, strict=True):
        report(f"  applying {record.name}")
        cpython_build.apply_patch(tree.root, patch, record.name, layout.log("cpython-patch"))
    mapped = f"/build/Python-{inputs.version}"
    env = _build_env(inputs, tree.root, mapped)
    report(
        f"  configure {' '.join(inputs.configure_args)} (log: {layout.log('cpython-configure')})"
    )
    cpython_build.configure(tree.root, inputs.configure_args, env, layout.log("cpython-configure"))
    jobs = len(os.sched_getaffinity(0))
    report(f"  make -j{jobs}: a few minutes (log: {layout.log('cpython-make')})")
    cpython_build.make(tree.root, jobs, env, layout.log("cpython-make"), _progress(report))
    destdir = tree_dir / "destdir"
    cpython_build.make_install(tree.root, destdir, env, layout.log("cpython-install"))
    installed = destdir / PREFIX.lstrip("/")
    built_cpython.remove_build_paths(installed, tree.root, mapped)
    interpreter = installed / "bin" / f"python{_short(inputs.version)}"
    patchelf.set_rpath(interpreter, ["$ORIGIN/../lib"])
    built_cpython.check_modules(interpreter)
    build = CPythonBuild(
        version=inputs.version,
        tarball_origin=inputs.tarball.origin,
        tarball_filename=inputs.tarball.filename,
        tarball_sha256=inputs.tarball.sha256,
        patches=inputs.patch_records,
        configure_args=inputs.configure_args,
        env=inputs.settings.env,
        compiler=inputs.compiler,
        source_date_epoch=inputs.source_date_epoch,
        bundled=built_cpython.bundled_libraries(interpreter),
        system_libraries=built_cpython.system_libraries(installed),
        inputs_sha256=inputs.key,
        system_packages=packages_used_here(installed),
    )
    folder = layout.built_runtime(inputs.key)
    folder.mkdir(parents=True, exist_ok=True)
    packed = pack_runtime(
        str(interpreter), folder, label=ARCHIVE_LABEL, keep_debug_info=inputs.keep_debug_info
    )
    write_json(
        folder / RECORD_NAME,
        {"archive": packed.archive.name, "sha256": packed.sha256, "build": build.to_json()},
    )
    remove_tree(tree_dir)
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    report(f"built CPython {inputs.version} in {minutes}m{seconds:02d}s: {packed.archive.name}")
    return BuiltRuntime(packed.archive, build)


def _build_env_of(settings: CPythonSettings) -> dict[str, str]:
    """The settings' env, plus what makes the build reproducible."""
    env = dict(settings.env)
    env["SOURCE_DATE_EPOCH"] = os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH)
    env["PYTHONHASHSEED"] = "0"  # the build runs Python (lib2to3's pickles, sysconfig)
    env["LC_ALL"] = "C"
    return env


def _build_env(inputs: _Inputs, tree: Path, mapped: str) -> dict[str, str]:
    """The build's env: the build tree's path mapped away in debug info and __FILE__."""
    env = _build_env_of(inputs.settings)
    prefix_map = f"-ffile-prefix-map={tree}={mapped}"
    env["CFLAGS"] = f"{env.get('CFLAGS', '')} {prefix_map}".strip()
    return env


def _progress(report: Report) -> Callable[[str], None]:
    """Print how far the compile is every 30 s, so minutes of make never look like a hang."""
    started = last = time.monotonic()
    compiled = 0

    def see(line: str) -> None:
        nonlocal compiled, last
        if " -c " in line:
            compiled += 1
        now = time.monotonic()
        if now - last >= _PROGRESS_SECONDS:
            last = now
            minutes, seconds = divmod(int(now - started), 60)
            report(f"  still compiling CPython: {compiled} files so far ({minutes}m{seconds:02d}s)")

    return see


def _short(version: str) -> str:
    return ".".join(version.split(".")[:2])
