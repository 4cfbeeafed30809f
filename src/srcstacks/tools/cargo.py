"""cargo and rustc: the Rust toolchain builds use, their environment, and the crates they compiled.

Reads ``rustc -vV``, ``rustc --print sysroot`` and ``cargo --version`` (the toolchain on
PATH), and, in a Rust source tree Fromager prepared (its crates vendored into
``vendor/`` with a ``.cargo/config.toml`` pointing there), ``Cargo.lock`` and what
``cargo metadata --offline --locked`` resolves for the build's target. Writes nothing.
What cargo says when a build fails is read by :mod:`srcstacks.tools.cargo_errors`.

Runs in srcstacks (:func:`find_rust_toolchain`, :func:`rust_build_env`) and inside
Fromager's process (:func:`crates_in`, from the wheel SBOM hook), so it imports nothing
of srcstacks but :mod:`srcstacks.state.build_record`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from srcstacks.state.build_record import Crate

# Fromager's vendoring writes this source name into the tree's .cargo/config.toml.
VENDORED_SOURCE = "vendored-sources"
# Folders of a source tree that hold no manifest of the project's own.
_NOT_PROJECT = frozenset({"vendor", "target", ".cargo", ".git"})
_TIMEOUT = 300
_LEGACY_OR = re.compile(r"\s*/\s*")


class CargoError(RuntimeError):
    """cargo could not say what a build compiled; the build must not pass unrecorded."""


@dataclass(frozen=True)
class RustToolchain:
    """The rustc and cargo builds run with."""

    rustc: str  # "1.95.0 (59807616e 2026-04-14)"
    cargo: str  # "1.95.0 (f2d3ce0bd 2026-03-21)"
    target: str  # the host triple rustc builds for: "x86_64-unknown-linux-gnu"
    bin_dir: Path  # the folder holding the real rustc and cargo (not rustup's proxies)


def find_rust_toolchain(path: str | None = None) -> RustToolchain | None:
    """The Rust toolchain first on ``path`` (default: PATH), or None without rustc and cargo.

    rustup's ``~/.cargo/bin`` holds proxies that pick a toolchain from the user's
    settings (``rust-toolchain.toml`` in a build tree, ``RUSTUP_TOOLCHAIN``); the
    toolchain's own ``bin`` folder, from ``rustc --print sysroot``, is what builds use.
    """
    rustc = shutil.which("rustc", path=path)
    if rustc is None:
        return None
    try:
        verbose = _run([rustc, "-vV"])
        sysroot = Path(_run([rustc, "--print", "sysroot"]).strip())
    except (OSError, subprocess.SubprocessError):
        return None
    bin_dir = sysroot / "bin"
    if not (bin_dir / "rustc").is_file():
        bin_dir = Path(rustc).parent
    cargo = bin_dir / "cargo"
    if not cargo.is_file():
        found = shutil.which("cargo", path=path)
        if found is None:
            return None
        cargo = Path(found)
    try:
        cargo_version = _run([str(cargo), "--version"]).strip()
    except (OSError, subprocess.SubprocessError):
        return None
    fields = dict(line.split(": ", 1) for line in verbose.splitlines()[1:] if ": " in line)
    return RustToolchain(
        rustc=_version_of(verbose.splitlines()[0], "rustc"),
        cargo=_version_of(cargo_version, "cargo"),
        target=fields.get("host", ""),
        bin_dir=bin_dir,
    )


def _version_of(line: str, tool: str) -> str:
    """``"1.95.0 (59807616e 2026-04-14)"`` from ``"rustc 1.95.0 (59807616e 2026-04-14)"``."""
    return line.strip().removeprefix(f"{tool} ").strip()


def _run(command: list[str]) -> str:
    return subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=_TIMEOUT
    ).stdout


def rust_build_env(
    toolchain: RustToolchain | None, work_dir: Path, cargo_home: Path, path: str
) -> dict[str, str]:
    """The variables a build needs to run cargo, reproducibly and with srcstacks' settings only.

    - ``CARGO_HOME`` of srcstacks' own (``cargo_home``), so the user's
      ``~/.cargo/config.toml`` (registries, rustflags, linkers) never reaches a build;
      crates downloaded once stay there for every later run;
    - the toolchain's own ``bin`` folder on ``path`` (after srcstacks' scripts), so a
      build runs the rustc recorded in its provenance, whatever rustup would choose;
    - ``RUSTFLAGS`` mapping Fromager's work dir and the cargo home to fixed names, so
      no folder of this machine ends up in a compiled library (panic locations name
      the vendored crates' files); ``CARGO_ENCODED_RUSTFLAGS`` when a path has a space.

    Without a toolchain only cargo's own variables are set: a Rust build then fails on
    the missing cargo, which :func:`srcstacks.tools.cargo_errors.cargo_failure` names.
    """
    # One retry, not cargo's three with back-off: an unreachable registry fails soon.
    env = {"CARGO_HOME": str(cargo_home), "CARGO_TERM_COLOR": "never", "CARGO_NET_RETRY": "1"}
    if toolchain is None:
        return env
    head, _, tail = path.partition(os.pathsep)
    env["PATH"] = os.pathsep.join(part for part in (head, str(toolchain.bin_dir), tail) if part)
    flags = [f"--remap-path-prefix={work_dir}=/build", f"--remap-path-prefix={cargo_home}=/cargo"]
    if any(" " in flag for flag in flags):
        env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(flags)
    else:
        env["RUSTFLAGS"] = " ".join(flags)
    return env


def vendored_roots(source_root: Path) -> list[Path]:
    """The folders of ``source_root`` whose ``.cargo/config.toml`` points at vendored crates."""
    found = []
    for config in sorted(_project_files(source_root, ".cargo/config.toml")):
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if VENDORED_SOURCE in data.get("source", {}):
            found.append(config.parent.parent)
    return found


def _project_files(root: Path, relative: str) -> Iterator[Path]:
    """``root/relative`` and the same below ``root``'s project folders (two levels deep)."""
    candidates = [root / relative]
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if child.is_dir() and child.name not in _NOT_PROJECT:
            candidates.append(child / relative)
    return (path for path in candidates if path.is_file())


def lock_files(source_root: Path) -> list[Path]:
    """The project's own ``Cargo.lock`` files (not those of vendored crates or builds)."""
    return sorted(_project_files(source_root, "Cargo.lock"))


def crates_in(source_root: Path, target: str) -> tuple[Crate, ...]:
    """Every crate from a registry that the build of ``source_root`` compiled for ``target``.

    For each project ``Cargo.lock`` below a vendored root: ``cargo metadata --offline
    --locked --filter-platform <target>`` (run in that root, so the vendored sources
    answer) gives the crates resolved for this platform (build scripts and proc macros
    included, Windows-only crates not), their licences and dependency edges; the lock
    file gives each one's checksum. The project's own crates (path dependencies, in the
    sdist) are left out. Sorted by name and version.
    """
    crates: dict[str, Crate] = {}
    for root in vendored_roots(source_root):
        for lock in lock_files(root):
            for crate in _resolved(root, lock, target):
                crates.setdefault(crate.key, crate)
    return tuple(sorted(crates.values(), key=lambda crate: (crate.name, crate.version)))


def _resolved(root: Path, lock: Path, target: str) -> list[Crate]:
    manifest = lock.parent / "Cargo.toml"
    command = ["cargo", "metadata", "--format-version", "1", "--offline", "--locked",
               "--manifest-path", str(manifest)]  # fmt: skip
    if target:
        command += ["--filter-platform", target]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT,
                                cwd=root)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise CargoError(f"cargo metadata for {manifest} could not run: {exc}") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise CargoError(f"cargo metadata for {manifest} failed: {last}")
    return crates_from_metadata(json.loads(result.stdout), checksums(lock))


def checksums(lock: Path) -> dict[str, str]:
    """``{"name@version": sha256}`` of every crate from a registry in a ``Cargo.lock``."""
    return {f"{name}@{version}": checksum
            for name, version, _, checksum in locked_packages(lock) if checksum}  # fmt: skip


def crates_from_metadata(metadata: Mapping[str, object], sums: Mapping[str, str]) -> list[Crate]:
    """The registry crates of a ``cargo metadata`` document, with ``sums`` from its lock file.

    A crate is ``direct`` when one of the project's own crates (path dependencies, the
    workspace) depends on it.
    """
    packages = {str(p["id"]): p for p in _dicts(metadata.get("packages"))}
    keys = {pid: f"{p['name']}@{p['version']}" for pid, p in packages.items()}
    registry = {pid for pid, p in packages.items()
                if str(p.get("source") or "").startswith("registry+")}  # fmt: skip
    resolve = metadata.get("resolve")
    nodes = _dicts(resolve.get("nodes")) if isinstance(resolve, dict) else []
    edges = {str(node["id"]): [str(dep) for dep in _list(node.get("dependencies"))]
             for node in nodes}  # fmt: skip
    direct = {dep for pid, deps in edges.items() if pid not in registry for dep in deps}
    found = []
    for pid, deps in edges.items():
        if pid not in registry:
            continue
        package = packages[pid]
        found.append(
            Crate(
                name=str(package["name"]),
                version=str(package["version"]),
                sha256=sums.get(keys[pid], ""),
                license=license_expression(str(package.get("license") or "")),
                registry=str(package["source"]).removeprefix("registry+"),
                depends_on=tuple(sorted(keys[dep] for dep in deps if dep in registry)),
                direct=pid in direct,
            )
        )
    return found


def license_expression(declared: str) -> str:
    """A crate's ``license`` as an SPDX expression: Cargo's old ``MIT/Apache-2.0`` is ``OR``."""
    return _LEGACY_OR.sub(" OR ", declared.strip())


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _dicts(value: object) -> list[dict[str, object]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def locked_packages(lock: Path) -> frozenset[tuple[str, str, str, str]]:
    """``(name, version, source, checksum)`` of every package a ``Cargo.lock`` pins."""
    try:
        data = tomllib.loads(lock.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return frozenset()
    return frozenset(
        (str(p.get("name")), str(p.get("version")), str(p.get("source", "")),
         str(p.get("checksum", "")))
        for p in data.get("package", [])
        if isinstance(p, dict)
    )  # fmt: skip


def lock_problem(
    project_dir: Path, before: Mapping[Path, frozenset[tuple[str, str, str, str]]]
) -> str:
    """What vendoring changed in the project's ``Cargo.lock`` files (``""``: nothing).

    ``before`` is :func:`locked_packages` of each lock file before ``cargo vendor`` ran:
    a lock file it created was missing, one whose packages it changed was out of date
    with ``Cargo.toml``. Either way the crates would not be the ones the sdist pins.
    """
    for lock in lock_files(project_dir):
        shown = lock.relative_to(project_dir.parent).as_posix()
        if lock not in before:
            return f"{shown} is missing, so cargo would choose the crates' versions itself"
        if locked_packages(lock) != before[lock]:
            changed = sorted(
                f"{name} {version}" for name, version, _, _ in before[lock] ^ locked_packages(lock)
            )
            return (
                f"{shown} is out of date with its Cargo.toml (cargo vendor changed"
                f" {', '.join(changed[:4])}{', ...' if len(changed) > 4 else ''})"
            )
    return ""


# The source name srcstacks gives a crates mirror in cargo's config.
MIRROR_SOURCE = "srcstacks-mirror"
_CONFIG_HEADER = "# Written by srcstacks from [tool.srcstacks.cargo]; rewritten every run.\n"


def cargo_config(registry: str = "", directory: Path | None = None) -> str:
    """The ``config.toml`` of srcstacks' cargo home: crates.io replaced by the mirror.

    A ``directory`` of crates needs no network, so cargo runs offline: a crate missing
    from it fails the build instead of being fetched from anywhere else.
    """
    if not registry and directory is None:
        return ""
    lines = [
        _CONFIG_HEADER,
        "[source.crates-io]",
        f"replace-with = {json.dumps(MIRROR_SOURCE)}",
        "",
        f"[source.{MIRROR_SOURCE}]",
    ]
    if registry:
        lines.append(f"registry = {json.dumps(registry)}")
    else:
        lines += [f"directory = {json.dumps(str(directory))}", "", "[net]", "offline = true"]
    return "\n".join(lines) + "\n"


def replaces_crates_io(cargo_home: Path) -> bool:
    """Whether srcstacks' config in ``cargo_home`` points crates.io at a mirror."""
    config = cargo_home / "config.toml"
    return config.is_file() and MIRROR_SOURCE in config.read_text(encoding="utf-8")


def cargo_configs_above(folder: Path) -> list[Path]:
    """The cargo config files of the folders above ``folder``, nearest first.

    cargo reads every ``.cargo/config.toml`` (and the older ``.cargo/config``) from the
    folder it runs in up to ``/``, whatever ``CARGO_HOME`` says: those above a source
    tree are the user's, not the project's.
    """
    found = []
    for parent in folder.absolute().parents:
        for name in ("config.toml", "config"):
            if (parent / ".cargo" / name).is_file():
                found.append(parent / ".cargo" / name)
    return found
