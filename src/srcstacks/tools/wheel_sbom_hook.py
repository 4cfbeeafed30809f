"""Inside Fromager: write each wheel's own SBOM before Fromager packs the wheel.

:mod:`fromager_main` wraps Fromager's ``overrides.find_and_invoke`` so that, when
Fromager asks for a package's ``add_extra_metadata_to_wheels`` (with the wheel unpacked
and its ``.dist-info`` folder in hand, before ``wheel pack`` writes ``RECORD``), this
module writes ``<dist-info>/sboms/<name>.cdx.json`` (:mod:`srcstacks.state.wheel_sbom`) from
what :mod:`build_probe` reads and what the wheel's own metadata says
(:mod:`srcstacks.state.wheel_about`), and for a Rust extension (a source tree whose crates
Fromager vendored) the rustc and cargo on PATH and the crates ``cargo metadata`` says
the build compiled (:mod:`srcstacks.tools.cargo`), each with the stack's patches that
changed it (:mod:`srcstacks.tools.crate_patches`). A plugin of the package's own still
runs first; the SBOM is added whatever it returns. Every path (serial ``bootstrap``, ``--jobs N``'s
``fromager build``, a Dask worker's) starts Fromager through :mod:`fromager_main`.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import (
    InvalidSdistFilename,
    canonicalize_name,
    parse_sdist_filename,
)

from srcstacks.fsutil import sha256_file
from srcstacks.spec.patches import applicable_patches
from srcstacks.state.build_record import BuildEnvironment, Crate
from srcstacks.state.wheel_about import read_about
from srcstacks.state.wheel_sbom import SBOM_FOLDER, Patch, WheelSbom, render
from srcstacks.tools.build_probe import ProbeError, WheelServer, machine_paths, probe
from srcstacks.tools.cargo import CargoError, crates_in, find_rust_toolchain, vendored_roots
from srcstacks.tools.crate_patches import patched_crates

HOOKED_METHOD = "add_extra_metadata_to_wheels"
_DEFAULT_SOURCE_DATE_EPOCH = "315532800"  # as tools.fromager, which Fromager never imports
_servers: dict[str, WheelServer] = {}


def write_wheel_sbom(ctx: Any, req: Requirement, version: Any, extra_environ: dict[str, str],
                     sdist_root_dir: Path, dist_info_dir: Path) -> Path:  # fmt: skip
    """Write the SBOM of the wheel being packed; its path."""
    project = canonicalize_name(req.name)
    build_dir = Path(sdist_root_dir).parent
    build_env = Path(
        extra_environ.get("VIRTUAL_ENV") or build_dir / f"build-{platform.python_version()}"
    )
    url = str(ctx.wheel_server_url)
    server = _servers.setdefault(url, WheelServer(url))
    paths = machine_paths(
        Path(ctx.work_dir),
        [(Path(ctx.sdists_repo), "<sdists-repo>"), (Path(ctx.wheels_repo), "<wheels-repo>"),
         (build_env, "<build-env>"), (build_dir, "<build-dir>")],
    )  # fmt: skip
    environment = probe(
        build_env=build_env,
        build_dir=build_dir,
        wheel_tree=Path(dist_info_dir).parent,
        server=server,
        extra_environ=extra_environ,
        paths=paths,
    )
    patches_dir = Path(ctx.settings.patches_dir)
    applying = applicable_patches(patches_dir, project, str(version), ctx.variant)
    applied = {path.relative_to(patches_dir).as_posix(): path for path in applying}
    patches = tuple(Patch(name=name, text=path.read_bytes()) for name, path in applied.items())
    environment, crates = _rust_part(environment, Path(sdist_root_dir), applied)
    sdist = _downloaded_sdist(Path(ctx.sdists_downloads), project, str(version))
    sbom = WheelSbom(
        project=project,
        version=str(version),
        variant=str(ctx.variant),
        sdist_filename=sdist.name if sdist else "",
        sdist_sha256=sha256_file(sdist) if sdist else "",
        patches=(),
        environment=environment,
        crates=crates,
        about=read_about(Path(dist_info_dir)),
    )
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", _DEFAULT_SOURCE_DATE_EPOCH))
    target = Path(dist_info_dir) / SBOM_FOLDER / f"{project}.cdx.json"
    if target.exists():
        raise ProbeError(f"{target}: the build backend already wrote an SBOM of this name")
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(render(sbom, patches, metadata.version("fromager"), epoch))
    return target


def _rust_part(
    environment: BuildEnvironment, source_root: Path, patches: dict[str, Path]
) -> tuple[BuildEnvironment, tuple[Crate, ...]]:
    """``environment`` with the Rust toolchain, and the crates compiled (with the
    ``patches`` that changed each), when the source tree had its crates vendored (else as
    it was, and none)."""
    if not vendored_roots(source_root):
        return environment, ()
    toolchain = find_rust_toolchain()
    if toolchain is None:
        raise ProbeError(f"{source_root}: crates were compiled, but no rustc and cargo on PATH")
    try:
        crates = crates_in(source_root, toolchain.target)
    except CargoError as exc:
        raise ProbeError(str(exc)) from None
    patched = patched_crates(source_root, patches)
    crates = tuple(dataclasses.replace(c, patches=patched.get(c.key, ())) for c in crates)
    rust = dataclasses.replace(environment, rustc=toolchain.rustc, cargo=toolchain.cargo,
                               rust_target=toolchain.target)  # fmt: skip
    return rust, crates


def _downloaded_sdist(folder: Path, project: str, version: str) -> Path | None:
    """The upstream sdist of ``project`` ``version`` Fromager downloaded, if any."""
    found = []
    for path in sorted(folder.glob("*")):
        try:
            name, parsed = parse_sdist_filename(path.name)
        except InvalidSdistFilename:
            continue
        if name == project and str(parsed) == version:
            found.append(path)
    return found[0] if found else None
