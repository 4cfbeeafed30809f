"""Degraded builds caught: each wheel built here, compared with the binary wheel PyPI
publishes of the same version for this platform and Python.

A build from source can come out quietly poorer than the public binary: a package whose
compiled speed-ups are optional builds without them when a compiler or header is
missing (charset_normalizer without its mypyc modules, pillow without ``_webp``). For
every wheel the last wheels run built from source, the upstream wheel an installer here
would take (:func:`srcstacks.spec.platforms.best_wheel`) is downloaded, checked against
the sha256 its index publishes, kept in ``<variant>/parity-wheels/``, and its extension
modules are compared with ours: each one upstream ships that ours lacks is named. For
numpy and SciPy, so is the BLAS or LAPACK upstream was built against when ours found
none (:mod:`srcstacks.build.blas_config`); another one than upstream's is only said.

Writes ``<variant>/parity.json`` (:mod:`srcstacks.state.parity`; one entry per wheel
built here: what it was compared with and what it lacks, or why it was not compared)
for the sbom stage, which marks a degraded wheel's component ``srcstacks:degraded``.
``[tool.srcstacks] parity`` says what a difference does: ``"report"`` (the default)
names it, ``"require"`` stops the run after recording it (projects in
``parity_exceptions`` are only named), ``"off"`` compares nothing.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from srcstacks.build.blas_config import backend_differences, backends
from srcstacks.build.wheel_records import find_built_wheel
from srcstacks.errors import BuildError
from srcstacks.index.client import PYPI_SIMPLE, IndexReadError, download_checked, published_files
from srcstacks.layout import Layout
from srcstacks.reporting import Report
from srcstacks.runtime.interpreters import BuildGroup
from srcstacks.spec.parity import Parity
from srcstacks.spec.platforms import best_wheel
from srcstacks.spec.rules import BUILD_PLATFORM
from srcstacks.state.parity import ParityFinding, write_parity
from srcstacks.tools.fromager_files import read_build_order
from srcstacks.web import each_overlapping

_EXTENSION_SUFFIXES = (".so", ".pyd")


def extension_modules(names: Iterable[str]) -> frozenset[str]:
    """The compiled extension modules among a wheel's file names, by module path:
    ``markupsafe/_speedups`` for ``markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so``
    (the ABI tag differs between builds and is not the module). The shared libraries a
    binary wheel bundles (auditwheel's ``numpy.libs/``, delocate's ``.dylibs/``) are no
    modules: a build here links the system's instead (for a BLAS,
    :mod:`srcstacks.build.blas_config` compares what each was built against)."""
    found = set()
    for name in names:
        path = PurePosixPath(name)
        if path.suffix not in _EXTENSION_SUFFIXES or ".dist-info" in name:
            continue
        if any(part.endswith(".libs") or part == ".dylibs" for part in path.parts[:-1]):
            continue  # a library auditwheel or delocate bundled: no module, its BLAS say
        module = path.name.split(".", 1)[0]
        found.add(str(path.with_name(module)))
    return frozenset(found)


def wheel_modules(wheel: Path) -> frozenset[str]:
    """The extension modules inside ``wheel``."""
    with zipfile.ZipFile(wheel) as archive:
        return extension_modules(archive.namelist())


def missing_modules(ours: Path, upstream: Path) -> tuple[str, ...]:
    """The extension modules ``upstream`` ships that ``ours`` lacks, sorted."""
    return tuple(sorted(wheel_modules(upstream) - wheel_modules(ours)))


def check_parity(
    layout: Layout,
    parity: Parity,
    groups: Sequence[BuildGroup],
    report: Report,
    index_url: str = PYPI_SIMPLE,
) -> list[ParityFinding]:
    """Compare every wheel the groups' last builds made with ``index_url``'s binaries
    for their Python; write ``parity.json``; say each difference.

    With ``parity.mode == "require"``, a difference in a project that is no exception
    is a :class:`BuildError`, raised after everything is recorded.
    """
    if parity.mode == "off":
        write_parity(layout, [])
        return []
    wheels: dict[str, tuple[Path, str, str, str]] = {}  # wheel name -> what to compare
    for group in groups:
        for entry in read_build_order(group.dirs) or []:
            if entry.prebuilt:
                continue
            ours = find_built_wheel(group.dirs.built_wheels, entry.project, entry.version)
            # A pure-Python wheel is seeded into every Python's build: compared once.
            wheels.setdefault(ours.name, (ours, entry.project, entry.version, group.python))
    # Side by side (two downloads of one upstream file each land whole: atomic_path).
    compared_each = each_overlapping(lambda wheel: _compare(layout, *wheel, index_url),
                                     wheels.values())  # fmt: skip
    findings = dict(zip(wheels, compared_each, strict=True))
    write_parity(layout, list(findings.values()))
    compared = [item for item in findings.values() if item.upstream]
    degraded = [item for item in findings.values() if item.degraded]
    report(
        f"parity: {len(compared)} of {len(findings)} built wheel(s) compared with the"
        f" binaries {index_url} publishes; {len(degraded)} lack(s) what upstream ships"
    )
    for item in degraded:
        excepted = " (a parity exception)" if item.project in parity.exceptions else ""
        report(f"  degraded: {item.wheel} {item.describe()}{excepted}")
    for item in findings.values():
        for difference in item.differs:
            report(f"  differs: {item.wheel} {difference}")
    failing = [item for item in degraded if item.project not in parity.exceptions]
    if parity.mode == "require" and failing:
        raise BuildError(
            f"{len(failing)} wheel(s) built without what the upstream binary ships"
            f" ({', '.join(f'{item.project}: {item.missing[0]}' for item in failing)});"
            ' [tool.srcstacks] parity = "require": give the build what it needs'
            " (headers, compilers, settings) or list the project in parity_exceptions",
            str(layout.parity_record),
        )
    return list(findings.values())


def _compare(
    layout: Layout, ours: Path, project: str, version: str, python: str, index_url: str
) -> ParityFinding:
    def unchecked(note: str) -> ParityFinding:
        return ParityFinding(ours.name, project, version, "", (), note)

    try:
        listed = published_files(index_url, project)
    except IndexReadError as exc:
        return unchecked(f"not compared: {exc}")
    candidates = [name for name in listed if _is_wheel_of_version(name, version)]
    chosen = best_wheel(candidates, BUILD_PLATFORM, python)
    if chosen is None:
        return unchecked(f"not compared: {index_url} has no binary wheel of it for here")
    target = layout.parity_wheel(chosen)
    if not target.is_file():
        try:
            download_checked(listed[chosen], target)
        except IndexReadError as exc:
            return unchecked(f"not compared: {exc}")
    lacking, differing = backend_differences(backends(ours), backends(target))
    missing = missing_modules(ours, target) + lacking
    return ParityFinding(ours.name, project, version, chosen, missing, differs=differing)


def _is_wheel_of_version(filename: str, version: str) -> bool:
    try:
        return parse_wheel_filename(filename)[1] == Version(version)
    except (InvalidWheelFilename, InvalidVersion):
        return False
