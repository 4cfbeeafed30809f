"""Inside Fromager: the stack's patches to vendored Rust crates, applied once the crates are there.

Fromager applies a package's patches to the unpacked sdist, then vendors its crates
(``cargo vendor`` into ``vendor/``). A patch whose files lie in a ``vendor/<crate>/``
folder (:func:`srcstacks.spec.patches.vendored_crate_dir`), made against a prepared source
tree, has nothing to apply to at that point. :mod:`fromager_main` sets such a patch
aside when Fromager applies the patches (:func:`defers`, :func:`defer`) and applies it
right after the crates are vendored and checked against ``Cargo.lock``
(:func:`apply_deferred`). cargo checks every vendored file against the crate's
``.cargo-checksum.json``; the entries of the files a patch changed are set to their new
SHA-256 (a deleted file's entry is dropped). The crate's own checksum, the ``.crate``
file ``Cargo.lock`` pins, stays that of the crate as fetched.

:func:`patched_crates` tells the SBOM hook which crates (``name@version``, from the
vendored ``Cargo.toml``) each patch changed, so provenance and SBOMs record them.

Reads the patch files and the vendored crates; writes the patched crate files and their
``.cargo-checksum.json``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

from srcstacks.fsutil import sha256_file
from srcstacks.spec.patches import VENDOR_DIR, patch_targets, vendored_crate_dir

_CHECKSUMS = ".cargo-checksum.json"
# What ``cargo vendor`` reads: a patch changing one of them must apply before it runs.
_VENDORING_INPUTS = frozenset({"Cargo.toml", "Cargo.lock", "pyproject.toml"})

_deferred: dict[Path, list[Path]] = {}


class CratePatchError(RuntimeError):
    """A patch srcstacks cannot apply to vendored crates."""


def crate_targets(patch: Path) -> tuple[str, ...]:
    """The files ``patch`` changes in vendored crates (none for an ordinary patch)."""
    return tuple(t for t in _targets(patch) if vendored_crate_dir(t))


def defers(patch: Path) -> bool:
    """Whether ``patch`` changes vendored crates, so applies after they are vendored.

    Raises :class:`CratePatchError` when it also changes what ``cargo vendor`` reads.
    """
    targets = _targets(patch)
    if not any(vendored_crate_dir(target) for target in targets):
        return False
    for target in targets:
        if not vendored_crate_dir(target) and _feeds_vendoring(target):
            raise CratePatchError(
                f"{patch}: it changes vendored crates and {target}, which cargo vendor"
                " reads first; split it into a patch for the crates and one for the rest"
            )
    return True


def defer(source_root: Path, patch: Path) -> None:
    """Remember to apply ``patch`` to ``source_root`` once its crates are vendored."""
    _deferred.setdefault(source_root.resolve(), []).append(patch)


def apply_deferred(project_dir: Path, apply: Callable[[Path, Path], None]) -> list[Path]:
    """Apply the patches set aside for the source tree holding ``project_dir``; them.

    ``apply(patch, source_root)`` applies a patch as every other is applied (exactly,
    logged alike, so a failure is reported alike); the patches go in the order Fromager
    applied the others, by file name.
    """
    here = project_dir.resolve()
    applied: list[Path] = []
    for root in [root for root in _deferred if root == here or root in here.parents]:
        for patch in _deferred.pop(root):
            apply(patch, root)
            refresh_checksums(root, crate_targets(patch))
            applied.append(patch)
    return applied


def refresh_checksums(root: Path, targets: Iterable[str]) -> None:
    """Set the ``.cargo-checksum.json`` entries of ``targets`` (paths below ``root``)."""
    by_crate: dict[str, list[str]] = {}
    for target in targets:
        crate_dir = vendored_crate_dir(target)
        if crate_dir:
            by_crate.setdefault(crate_dir, []).append(target[len(crate_dir) + 1 :])
    for crate_dir, files in sorted(by_crate.items()):
        checksum_file = root / crate_dir / _CHECKSUMS
        if not checksum_file.is_file():
            continue
        recorded = json.loads(checksum_file.read_text(encoding="utf-8"))
        for name in files:
            path = root / crate_dir / name
            if path.is_file():
                recorded["files"][name] = sha256_file(path)
            else:
                recorded["files"].pop(name, None)
        checksum_file.write_text(json.dumps(recorded, sort_keys=True), encoding="utf-8")


def patched_crates(source_root: Path, patches: dict[str, Path]) -> dict[str, tuple[str, ...]]:
    """``{"name@version": (patch name, ...)}`` for the crates below ``source_root`` that
    ``patches`` (name in the patches folder → file) changed."""
    found: dict[str, list[str]] = {}
    for name, patch in sorted(patches.items()):
        for crate_dir in sorted({vendored_crate_dir(t) or "" for t in crate_targets(patch)}):
            key = _crate_key(source_root / crate_dir / "Cargo.toml")
            if key and name not in found.setdefault(key, []):
                found[key].append(name)
    return {key: tuple(names) for key, names in found.items()}


def _crate_key(manifest: Path) -> str:
    try:
        package = tomllib.loads(manifest.read_text(encoding="utf-8"))["package"]
        return f"{package['name']}@{package['version']}"
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return ""


def _targets(patch: Path) -> tuple[str, ...]:
    return patch_targets(patch.read_text(encoding="utf-8", errors="replace"))


def _feeds_vendoring(target: str) -> bool:
    parts = target.split("/")
    return parts[-1] in _VENDORING_INPUTS or ".cargo" in parts or VENDOR_DIR in parts
