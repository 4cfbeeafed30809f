"""Fromager's command line, with one change: the requirements files it puts in wheels are sorted.

Fromager 0.77 copies each package's ``*-requirements.txt`` (build-system, build-backend,
build-sdist and install requirements) into the wheel's ``.dist-info`` as
``fromager-build-*-requirements.txt``. It writes them from sets of requirements, whose
order changes from one process to the next, so two builds of the same sdist gave wheels
that differ in those files' lines (7 of 31 wheels on a stack with hatchling, hatch-vcs,
setuptools-scm and Cython among the build tools). Here every such file is written in
sorted order, before the wheel is packed: the fix belongs where the file is written.

It refuses to prepare a Rust source below a folder with a cargo config file of the
user's (cargo reads those whatever its home says), and a Rust source whose
``Cargo.lock`` is missing or out of date with its ``Cargo.toml``: Fromager's
``cargo vendor`` would silently write a new one, and the crates compiled would be ones
nobody pinned (:func:`srcstacks.tools.cargo.lock_problem`).

Patches apply exactly (``patch -p1 --fuzz=0``): a hunk whose context does not match
the source fails instead of landing with fuzz. A patch to vendored crates (files in
``vendor/<crate>/``) is set aside when Fromager
applies the patches and applied once the crates are vendored
(:mod:`srcstacks.tools.crate_patches`).

With a crates mirror in srcstacks' cargo home (``[tool.srcstacks.cargo]``), its
``cargo vendor`` is told to fetch through it (``--respect-source-config``; by default
``cargo vendor`` ignores source replacement).

It also writes each wheel's own SBOM into its ``.dist-info/sboms/`` (PEP 770) at the
point Fromager adds its metadata, before the wheel is packed
(:mod:`srcstacks.tools.wheel_sbom_hook`), and writes what Fromager does with each
package, step by step, to the events file srcstacks reads back
(:mod:`srcstacks.tools.fromager_events`), from the same dispatcher, Fromager's
post-bootstrap hook runner and its dependency graph (each requirement resolved).

In the resolve step of a parallel run, a meson-python package's install requirements
are read from its ``pyproject.toml`` rather than by building its wheel
(:mod:`srcstacks.tools.static_requirements`).

With the spec's ``exclude-newer`` (uv's upload-time cutoff), the files of a source
index uploaded after it are left out of Fromager's resolution
(:mod:`srcstacks.tools.upload_filter`).

A project built with patches or a settings file gets a build tag that names them
(``0_4f1c9a2e``: :mod:`srcstacks.tools.build_tags`), so a wheel rebuilt after one of
them changed never takes the name of the one published before.

Started as ``<python> -m srcstacks.tools.fromager_main ARGS`` in place of
``-m fromager``. It wraps a private function, the override dispatcher and a hook runner,
which both pinned Fromager releases (0.77.0 on Python 3.11, 0.101.0 on 3.12+) have; a
release without them stops here with a message instead of building wheels that may not rebuild.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fromager.dependencies as dependencies
import fromager.dependency_graph as dependency_graph
import fromager.external_commands as external_commands
import fromager.hooks as hooks
import fromager.overrides as overrides
import fromager.packagesettings as packagesettings
import fromager.resolver as resolver
import fromager.sources as sources
import fromager.vendor_rust as vendor_rust

from srcstacks.spec.patches import PATCH_COMMAND
from srcstacks.tools import (
    build_tags,
    cargo,
    crate_patches,
    fromager_events,
    static_requirements,
    upload_filter,
)
from srcstacks.tools.wheel_sbom_hook import HOOKED_METHOD, write_wheel_sbom

_HOOKED = "_write_requirements_file"
_DISPATCH = "find_and_invoke"
_INSTALL_REQUIREMENTS = "get_install_dependencies_of_sdist"
_POST_BOOTSTRAP = "run_post_bootstrap_hooks"
_VENDOR_RUST = "vendor_rust"
_CARGO_VENDOR = "_cargo_vendor"
_APPLY_PATCH = "_apply_patch"
_BUILD_TAG = "build_tag"
_GET_PROJECT = "get_project_from_pypi"
_ADD_DEPENDENCY = "add_dependency"
_LOG = logging.getLogger(sources.__name__)  # Fromager's own, so its log lines read alike


class RustSourceError(RuntimeError):
    """A Rust source srcstacks will not build: its crates unpinned, or the user's cargo
    config above it."""


def _write_sorted(requirements: Iterable[Any], filename: Path) -> None:
    _fromager_write(sorted(requirements, key=str), filename)


def _invoke_then_write_sbom(distname: str, method: str, default_fn: Any, **kwargs: Any) -> Any:
    if method == _INSTALL_REQUIREMENTS:
        default_fn = static_requirements.static_first(default_fn)

    def call() -> Any:
        result = _fromager_invoke(distname, method, default_fn, **kwargs)
        if method == HOOKED_METHOD:
            write_wheel_sbom(
                kwargs["ctx"], kwargs["req"], kwargs["version"], kwargs["extra_environ"],
                kwargs["sdist_root_dir"], kwargs["dist_info_dir"],
            )  # fmt: skip
        return result

    return fromager_events.invoke(distname, method, call, kwargs)


def _add_dependency(graph: Any, *args: Any, **kwargs: Any) -> Any:
    """Fromager's ``DependencyGraph.add_dependency``, then a ``resolved`` event for it
    (both releases call it positionally or by keyword: the arguments are bound by name)."""
    result = _fromager_add_dependency(graph, *args, **kwargs)
    named = _ADD_SIGNATURE.bind(graph, *args, **kwargs).arguments
    fromager_events.resolved(named["req"], named["req_type"], named["req_version"])
    return result


def _post_bootstrap(**kwargs: Any) -> None:
    _fromager_post_bootstrap(**kwargs)
    fromager_events.bootstrapped(
        kwargs["ctx"], kwargs["dist_name"], kwargs["dist_version"], kwargs["wheel_filename"]
    )


def _vendor_locked(req: Any, project_dir: Path, **kwargs: Any) -> bool:
    project_dir = Path(project_dir)
    if users := cargo.cargo_configs_above(project_dir):
        raise RustSourceError(
            f"{users[0]}: cargo would read this config file in every Rust build below"
            f" {users[0].parent.parent}, and srcstacks cannot turn it off; move it away, or"
            " set tool.srcstacks.work_dir to a folder outside it"
        )
    before = {lock: cargo.locked_packages(lock) for lock in cargo.lock_files(project_dir)}
    vendored = bool(_fromager_vendor_rust(req, project_dir, **kwargs))
    if vendored and (problem := cargo.lock_problem(project_dir, before)):
        raise RustSourceError(
            f"{problem}: srcstacks compiles only the crates a Cargo.lock pins; fix the"
            " Cargo.lock upstream or with a patch in the stack's patches folder"
        )
    crate_patches.apply_deferred(project_dir, lambda patch, root: _apply_exactly(req, patch, root))
    return vendored


def _apply_or_defer(req: Any, patch: Path, source_root_dir: Path) -> None:
    """Fromager's ``_apply_patch``, exactly; a patch to vendored crates waits for them."""
    if crate_patches.defers(Path(patch)):
        crate_patches.defer(Path(source_root_dir), Path(patch))
    else:
        _apply_exactly(req, Path(patch), Path(source_root_dir))


def _apply_exactly(req: Any, patch: Path, source_root_dir: Path) -> None:
    """``patch -p1`` as Fromager runs it (same log lines), but with no fuzz.

    Fromager's plain ``patch -p1`` applies a hunk whose context lines do not match the
    source (up to two of them: "with fuzz 2"), so a patch written for another version
    can land at the wrong place and still count as applied. A moved hunk (an offset)
    still applies; one whose context differs fails, naming the patch and the hunk.
    """
    _LOG.info("applying patch file %s to %s", patch, source_root_dir)
    with open(patch, encoding="utf-8") as stream:
        external_commands.run(list(PATCH_COMMAND), stdin=stream, cwd=str(source_root_dir))


def _cargo_vendor(req: Any, manifests: list[Path], project_dir: Path) -> Iterable[Path]:
    """Fromager's ``_cargo_vendor`` (same arguments and result), through the mirror."""
    args = ["cargo", "vendor", f"--manifest-path={manifests[0]}"]
    args += [f"--sync={manifest}" for manifest in manifests[1:]]
    cargo_home = os.environ.get("CARGO_HOME")
    if cargo_home and cargo.replaces_crates_io(Path(cargo_home)):
        args.append("--respect-source-config")
    args.append(os.fspath(Path(project_dir) / vendor_rust.VENDOR_DIR))
    external_commands.run(args, network_isolation=False)
    return sorted(Path(project_dir).joinpath(vendor_rust.VENDOR_DIR).iterdir())


def _folders_and_variant(argv: list[str]) -> argparse.Namespace:
    """Fromager's ``--settings-dir``, ``--patches-dir`` and ``--variant`` (its defaults
    when absent; srcstacks always passes all three)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--settings-dir", type=Path, default=Path("overrides/settings"))
    parser.add_argument("-p", "--patches-dir", type=Path, default=Path("overrides/patches"))
    parser.add_argument("--variant", default="cpu")
    return parser.parse_known_args(argv)[0]


def _tag_naming_inputs(pbi: Any, version: Any) -> Any:
    """Fromager's build tag, with the digest of the project's patches and settings."""
    tag = _fromager_build_tag(pbi, version)
    if pbi.pre_built:
        return tag
    suffix = build_tags.inputs_suffix(
        _OPTIONS.variant, _OPTIONS.patches_dir, _OPTIONS.settings_dir, pbi.package, str(version)
    )
    return (tag[0] if tag else 0, suffix) if suffix else tag


_OPTIONS = _folders_and_variant(sys.argv[1:])
_WRAPPED = (
    (dependencies, _HOOKED),
    (overrides, _DISPATCH),
    (hooks, _POST_BOOTSTRAP),
    (vendor_rust, _VENDOR_RUST),
    (vendor_rust, _CARGO_VENDOR),
    (sources, _APPLY_PATCH),
    (packagesettings.PackageBuildInfo, _BUILD_TAG),
    (resolver, _GET_PROJECT),
    (dependency_graph.DependencyGraph, _ADD_DEPENDENCY),
)
if missing := [f"{getattr(module, '__name__', module)}.{name}()" for module, name in _WRAPPED
               if not hasattr(module, name)]:  # fmt: skip
    sys.exit(
        f"srcstacks: this Fromager has no {', '.join(missing)}: reproducible wheels with"
        " their SBOMs need a Fromager release srcstacks pins (see pyproject.toml)"
    )
_fromager_write = getattr(dependencies, _HOOKED)
setattr(dependencies, _HOOKED, _write_sorted)
_fromager_invoke = getattr(overrides, _DISPATCH)
setattr(overrides, _DISPATCH, _invoke_then_write_sbom)
_fromager_post_bootstrap = getattr(hooks, _POST_BOOTSTRAP)
setattr(hooks, _POST_BOOTSTRAP, _post_bootstrap)
_fromager_vendor_rust = getattr(vendor_rust, _VENDOR_RUST)
setattr(vendor_rust, _VENDOR_RUST, _vendor_locked)
setattr(vendor_rust, _CARGO_VENDOR, _cargo_vendor)
setattr(sources, _APPLY_PATCH, _apply_or_defer)
_fromager_add_dependency = getattr(dependency_graph.DependencyGraph, _ADD_DEPENDENCY)
_ADD_SIGNATURE = inspect.signature(_fromager_add_dependency)
setattr(dependency_graph.DependencyGraph, _ADD_DEPENDENCY, _add_dependency)
_fromager_build_tag = getattr(packagesettings.PackageBuildInfo, _BUILD_TAG)
setattr(packagesettings.PackageBuildInfo, _BUILD_TAG, _tag_naming_inputs)
if _CUTOFF := os.environ.get(upload_filter.CUTOFF_VARIABLE):
    _request = upload_filter.CutoffRequest.from_env(_CUTOFF)
    setattr(
        resolver,
        _GET_PROJECT,
        upload_filter.before_cutoff(getattr(resolver, _GET_PROJECT), _request),
    )

if __name__ == "__main__":
    from fromager.__main__ import invoke_main

    invoke_main()
