"""``srcstacks clean``: give back the disk a stack's work dir spends on what can be made again.

Reads the stack's :class:`~srcstacks.layout.Layout`; removes, only inside folders
srcstacks created (:func:`srcstacks.layout.ownership.remove_tree` checks their marker):

- always: venvstacks' layer environments (``venvstacks-build/``), the archives'
  ``staging/`` folder, a ``verify --rebuild`` scratch folder that was kept, and the
  per-layer fingerprints, so the next run that rebuilds a layer builds every layer's
  environment again instead of one on top of environments that are gone;
- with ``everything`` (``--all``) also Fromager's repos and work dirs (built wheels,
  downloaded sdists, the cargo home), the other Pythons' build toolchains, the packed,
  downloaded and built runtimes, CPython's source tarballs and build trees, and the stage
  fingerprints: the next build starts again from the sources.

Never removed: what a build published (the wheel dir, the output dir with the archives
and SBOMs), the lock files beside the spec, the records and logs of the runs, the
managed index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from srcstacks.layout import Layout
from srcstacks.layout.ownership import remove_tree
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig


@dataclass(frozen=True)
class Removed:
    """One thing ``clean`` removed, and the bytes its files held."""

    path: Path
    size: int


def clean(
    config: StackConfig, report: Report = print, *, everything: bool = False
) -> list[Removed]:
    """Remove what :func:`candidates` names that exists; what was removed."""
    removed = []
    published = (config.wheel_dir.resolve(), config.output_dir.resolve())
    for path in candidates(config, everything=everything):
        if not path.exists() and not path.is_symlink():
            continue
        if any(folder == path.resolve() or path.resolve() in folder.parents
               for folder in published):  # fmt: skip
            report(f"clean: kept {path}: the stack publishes its wheels or archives there")
            continue
        size = disk_size(path)
        remove_tree(path)
        removed.append(Removed(path, size))
        report(f"clean: removed {path} ({megabytes(size)})")
    return removed


def candidates(config: StackConfig, *, everything: bool = False) -> list[Path]:
    """What ``clean`` removes for ``config`` (``everything``: ``--all``), in order."""
    layout = Layout.of(config)
    paths = [
        layout.venvstacks_build,
        layout.staging,
        layout.default_scratch,
        layout.layer_fingerprints,
    ]
    if everything:
        paths += [
            layout.fromager.root,
            layout.toolchains,
            layout.packed_runtimes,
            layout.runtime_sources,
            layout.runtime_build_trees,
            layout.stage_fingerprints,
        ]
    return paths


def disk_size(path: Path) -> int:
    """The bytes of the files in ``path`` (links not followed)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        total += sum(os.lstat(os.path.join(folder, name)).st_size for name in files)
    return total


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
