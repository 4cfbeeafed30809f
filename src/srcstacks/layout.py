"""Where everything lives, and the only code that deletes anything.

:class:`Layout` derives every path srcstacks reads or writes for one stack and variant:
the work dir's state files and tool folders (``<work_dir>/<variant>/...``), the wheel dir
and the output dir. No other module joins path segments onto those folders.

Deleting is done here too, and only inside a folder srcstacks created: each such folder
(the work dir, the wheel dir, the output dir, a rebuild scratch dir) holds a marker file,
:data:`OWNER_MARKER`, written when srcstacks created it. A folder that already holds
files but no marker is refused, by name, before anything is written into it, so a
mistyped ``--scratch ~`` or ``--work-dir .`` can never empty a user's folder. Paths read
from files (archive names, layer names) are checked to stay inside their folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from srcstacks.errors import OwnershipError
from srcstacks.tools.fromager_dirs import FromagerDirs

if TYPE_CHECKING:
    from srcstacks.spec.config import StackConfig

OWNER_MARKER = ".srcstacks-owned"
# Leftovers of interrupted atomic writes (fsutil.atomic_path, fsutil.publish_tree).
_TEMPORARY = re.compile(r"^\..+\.part$")


def inside(base: Path, relative: str | Path, what: str) -> Path:
    """``base / relative``, refused unless it stays inside ``base`` (no ``..``, no root).

    For any path built from text that came from a spec, a command line or a file.
    """
    root = Path(os.path.normpath(base))
    candidate = Path(os.path.normpath(root / relative))
    if candidate == root or not candidate.is_relative_to(root):
        raise OwnershipError(f"{what} {str(relative)!r} points outside {base}")
    return candidate


def claim_dir(folder: Path, purpose: str, *, only_as: bool = False) -> Path:
    """Create ``folder`` (with parents) for srcstacks' use, or accept one it made before.

    A folder that exists, is not empty and has no :data:`OWNER_MARKER` was not made by
    srcstacks: it is refused, so nothing in it is ever overwritten or deleted. With
    ``only_as`` (folders srcstacks empties: a rebuild scratch dir, a deploy target), a
    folder srcstacks made for another purpose is refused too: a work, wheel or output
    dir, or a copy of one, is never emptied as scratch.
    """
    marker = folder / OWNER_MARKER
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise OwnershipError(f"{folder}: the {purpose} must be a folder, not a file or link")
    if marker.is_file():
        made_as = _purpose_of(marker)
        if only_as and made_as != purpose:
            raise OwnershipError(
                f"{folder}: srcstacks made this folder as the {made_as or 'unknown'}, not as"
                f" a {purpose}; name a new or empty folder for the {purpose}"
            )
        return folder
    if folder.is_dir() and any(folder.iterdir()):
        raise OwnershipError(
            f"{folder}: the {purpose} holds files srcstacks did not create (no {OWNER_MARKER});"
            " name an empty or new folder instead"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"created by srcstacks as the {purpose}\n", encoding="utf-8")
    except OSError as exc:
        raise OwnershipError(
            f"{folder}: cannot create the {purpose}: {exc.strerror or exc}"
        ) from None
    return folder


def _purpose_of(marker: Path) -> str:
    """What srcstacks made a folder for, from its marker ("" when unreadable)."""
    try:
        text = marker.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return text.removeprefix("created by srcstacks as the ")


def is_owned(folder: Path) -> bool:
    """Whether srcstacks created ``folder`` (it holds the marker)."""
    return (folder / OWNER_MARKER).is_file()


def _owner_of(path: Path) -> Path:
    """The nearest folder above ``path`` that srcstacks created; refuse if none.

    Strictly above: a folder srcstacks made (a wheel dir in a rebuild scratch dir, say)
    may go with the folder that holds it, never on its own.
    """
    resolved = Path(os.path.realpath(path.parent)) / path.name
    for folder in resolved.parents:
        if is_owned(folder):
            return folder
    if is_owned(resolved):
        raise OwnershipError(f"{path}: refusing to delete a whole srcstacks folder")
    raise OwnershipError(f"{path}: not inside a folder srcstacks created; refusing to delete it")


def remove_tree(path: Path) -> None:
    """Delete ``path`` (a folder or a file) if it lies inside a folder srcstacks created."""
    if not path.exists() and not path.is_symlink():
        return
    _owner_of(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def remove_owned_dir(folder: Path) -> None:
    """Delete ``folder`` itself, which srcstacks must have created (its marker says so)."""
    empty_dir(folder)
    (folder / OWNER_MARKER).unlink()
    folder.rmdir()


def empty_dir(folder: Path) -> None:
    """Delete everything in ``folder`` but its marker; ``folder`` must be srcstacks'."""
    if not is_owned(folder):
        raise OwnershipError(f"{folder}: not a folder srcstacks created; refusing to empty it")
    for entry in folder.iterdir():
        if entry.name != OWNER_MARKER:
            remove_tree(entry)


def remove_file(path: Path) -> None:
    """Delete one file inside a folder srcstacks created (missing is fine)."""
    if path.is_dir() and not path.is_symlink():
        raise OwnershipError(f"{path}: expected a file, found a folder")
    remove_tree(path)


def move_into(source: Path, target: Path) -> Path:
    """Move ``source`` to ``target``; both must be inside folders srcstacks created."""
    _owner_of(source)
    _owner_of(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, target)
    return target


def discard_temporary(path: Path) -> None:
    """Delete a temporary file of an atomic write (``.<name>.<...>.part``), nothing else."""
    if not _TEMPORARY.match(path.name):
        raise OwnershipError(f"{path}: not a srcstacks temporary file; refusing to delete it")
    path.unlink(missing_ok=True)


def remove_partial_files(folder: Path) -> None:
    """Delete leftovers of interrupted atomic writes (``.*.part``) anywhere in ``folder``."""
    if folder.is_dir():
        for leftover in folder.rglob(".*.part"):
            discard_temporary(leftover)


@dataclass(frozen=True)
class Layout:
    """Every path of one stack and variant. Build it with :meth:`of`."""

    spec_path: Path
    work_dir: Path
    variant: str
    wheel_dir: Path
    output_dir: Path

    @classmethod
    def of(cls, config: StackConfig) -> Layout:
        """The layout of ``config``'s stack and variant."""
        return cls(
            spec_path=config.spec_path,
            work_dir=config.work_dir,
            variant=config.variant,
            wheel_dir=config.wheel_dir,
            output_dir=config.output_dir,
        )

    # --- the work dir: private state, kept between runs -------------------------------

    @property
    def variant_dir(self) -> Path:
        """Private working state of this variant."""
        return self.work_dir / self.variant

    @property
    def fromager(self) -> FromagerDirs:
        """Fromager's repos and work dir for this variant."""
        return FromagerDirs(self.variant_dir / "fromager")

    def fromager_for(self, python: str) -> FromagerDirs:
        """The Fromager folders of the wheels for Python ``python`` (``X.Y``) in a stack
        with wheels for several Pythons (``""``: the only one, :attr:`fromager`)."""
        return FromagerDirs(self.variant_dir / "fromager", python)

    @property
    def requirements_file(self) -> Path:
        """Every layer's requirements, handed to ``fromager bootstrap -r``."""
        return self.variant_dir / "requirements.txt"

    def requirements_file_for(self, python: str) -> Path:
        """The requirements of the layers on Python ``python`` (``""``: every layer's)."""
        return self.variant_dir / (f"requirements-{python}.txt" if python else "requirements.txt")

    @property
    def wheels_record(self) -> Path:
        """What the last wheels stage did (``wheels.json``)."""
        return self.variant_dir / "wheels.json"

    @property
    def selective_plan(self) -> Path:
        """Selective mode: what the wheels stage builds from source and why."""
        return self.variant_dir / "selective.json"

    @property
    def selective_constraints(self) -> Path:
        """Selective mode: the versions resolved upstream, as constraints for Fromager."""
        return self.variant_dir / "selective-constraints.txt"

    @property
    def upstream_wheels(self) -> Path:
        """Selective mode: the binary wheels taken from the upstream index."""
        return self.variant_dir / "upstream-wheels"

    def upstream_wheel(self, filename: str) -> Path:
        """One of :attr:`upstream_wheels`; the name is the index's, so it is checked."""
        return inside(self.upstream_wheels, filename, "upstream wheel file name")

    @property
    def upstream_record(self) -> Path:
        """Selective mode: where each upstream wheel came from (``upstream.json``)."""
        return self.variant_dir / "upstream.json"

    @property
    def run_summary(self) -> Path:
        """What the last wheels run did with each wheel (``run-summary.json``)."""
        return self.variant_dir / "run-summary.json"

    @property
    def build_inputs(self) -> Path:
        """Each built wheel's inputs (patch hashes, settings hash, variant)."""
        return self.variant_dir / "build-inputs.json"

    @property
    def layer_fingerprints(self) -> Path:
        return self.variant_dir / "layer-fingerprints.json"

    @property
    def stage_fingerprints(self) -> Path:
        """Each stage's input fingerprint and output stamps from its last successful run."""
        return self.variant_dir / "stage-fingerprints.json"

    @property
    def fetched_provenance(self) -> Path:
        """Provenance of the wheels fetched from the private index, as checked on fetch."""
        return self.variant_dir / "fetched-provenance.json"

    @property
    def index_state(self) -> Path:
        """The managed index's devpi-server state (``[tool.srcstacks.index] managed``)."""
        return self.work_dir / "index"

    @property
    def sdists_checked(self) -> Path:
        """The sdists already checked against their index's sha256."""
        return self.variant_dir / "sdists-checked.json"

    @property
    def quarantine(self) -> Path:
        """Where sdists that failed their index check are moved."""
        return self.variant_dir / "quarantine"

    @property
    def runtime_record(self) -> Path:
        """Where each runtime layer's interpreter came from (``runtime.json``)."""
        return self.variant_dir / "runtime.json"

    @property
    def venvstacks_build(self) -> Path:
        """venvstacks' ``--build-dir``."""
        return self.variant_dir / "venvstacks-build"

    @property
    def staging(self) -> Path:
        """Where venvstacks writes archives before they are published together."""
        return self.variant_dir / "staging"

    @property
    def default_scratch(self) -> Path:
        """``verify --rebuild``'s scratch dir when none is given."""
        return self.variant_dir / "rebuild"

    @property
    def rebuild_pins(self) -> Path:
        """Constraints pinning the versions a rebuild must use."""
        return self.variant_dir / "rebuild-constraints.txt"

    @property
    def report(self) -> Path:
        """``srcstacks report``'s page when no ``--output`` is given."""
        return self.variant_dir / "report.html"

    @property
    def packed_runtimes(self) -> Path:
        """Runtimes packed from local interpreters, shared by every variant."""
        return self.work_dir / "runtimes"

    @property
    def toolchains(self) -> Path:
        """The build toolchains (Fromager's own environment) of every other Python."""
        return self.work_dir / "toolchains"

    def toolchain(self, python_version: str) -> Path:
        """The build toolchain installed from CPython ``python_version`` (``X.Y.Z``),
        shared by every variant (:mod:`srcstacks.tools.toolchain`)."""
        return inside(self.toolchains, f"cpython-{python_version}", "Python version")

    @property
    def runtime_sources(self) -> Path:
        """CPython source tarballs downloaded for ``source = "build"``, kept between runs."""
        return self.work_dir / "runtime-sources"

    def built_runtime(self, inputs_sha256: str) -> Path:
        """A CPython srcstacks built, by the sha256 of its inputs: archive and record."""
        return self.packed_runtimes / "built" / inputs_sha256[:16]

    @property
    def runtime_build_trees(self) -> Path:
        return self.work_dir / "runtime-build"

    def runtime_build_tree(self, inputs_sha256: str) -> Path:
        """Where CPython is unpacked, configured and compiled for those inputs."""
        return self.runtime_build_trees / inputs_sha256[:16]

    def log(self, name: str) -> Path:
        """The log file of one tool run, e.g. ``log("fromager-bootstrap")``."""
        return self.variant_dir / "logs" / f"{name}.log"

    def layer_env(self, env_name: str) -> Path:
        """A layer's environment in venvstacks' build dir."""
        return inside(self.venvstacks_build, env_name, "layer name")

    def seeded_runtime(self, python_implementation: str) -> Path:
        """Where a local runtime is seeded for venvstacks (``cpython@X.Y.Z``)."""
        return inside(self.venvstacks_build, python_implementation, "python_implementation")

    # --- the wheel dir: published wheels and their provenance -------------------------
    # Several stacks may share one wheel dir; each records what it published.

    def spec_seen_from(self, folder: Path) -> str:
        """The spec's path relative to ``folder``, with the variant: names this stack to
        the folders it publishes into, and stays the same when the whole tree is moved."""
        return f"{Path(os.path.relpath(self.spec_path, folder)).as_posix()}#{self.variant}"

    @property
    def stack_id(self) -> str:
        """Names this stack and variant among the publishers of a shared wheel dir."""
        key = self.spec_seen_from(self.wheel_dir).encode()
        return hashlib.sha256(key).hexdigest()[:16]

    @property
    def publishers(self) -> Path:
        """The folder of publisher records in the wheel dir."""
        return self.wheel_dir / ".srcstacks-publishers"

    @property
    def publisher_record(self) -> Path:
        """Which wheels this stack and variant published into the wheel dir."""
        return self.publishers / f"{self.stack_id}.json"

    @property
    def provenance(self) -> Path:
        """The provenance manifest beside the published wheels."""
        return self.wheel_dir / "provenance.json"

    def wheel(self, filename: str) -> Path:
        """A published wheel, by file name (checked to stay in the wheel dir)."""
        return inside(self.wheel_dir, filename, "wheel file name")

    # --- the output dir: published archives and their records ------------------------

    @property
    def output_owner(self) -> Path:
        """Which stack's archives the output dir holds (one stack per output dir)."""
        return self.output_dir / ".srcstacks-stack"

    @property
    def build_info(self) -> Path:
        """How the archives were made: variant, runtimes, tool versions."""
        return build_info_path(self.output_dir)

    @property
    def stack_manifest(self) -> Path:
        """venvstacks' manifest of the published layers."""
        return stack_manifest_path(self.output_dir)

    def archive(self, archive_name: str) -> Path:
        """A published layer archive, by the name venvstacks' metadata gives it."""
        return inside(self.output_dir, archive_name, "archive name")

    @property
    def wheel_attestations(self) -> Path:
        """The signed attestations of the wheels built here, beside the archives."""
        return self.output_dir / "__srcstacks__" / "wheels"

    def wheel_attestation(self, wheel_name: str) -> Path:
        """The signed attestation of one wheel built here, by its file name."""
        return inside(self.wheel_attestations, wheel_name + ATTESTATION_SUFFIX, "wheel name")


def build_info_path(output_dir: Path) -> Path:
    """``__srcstacks__/build.json`` of an output dir (or a staging folder)."""
    return output_dir / "__srcstacks__" / "build.json"


def stack_manifest_path(output_dir: Path) -> Path:
    """venvstacks' ``__venvstacks__/venvstacks.json`` of an output dir."""
    return output_dir / "__venvstacks__" / "venvstacks.json"


def sbom_path(archive: Path) -> Path:
    """Where the SBOM of ``archive`` is written: ``<archive name>.cdx.json`` beside it."""
    return archive.with_name(archive.name + ".cdx.json")


ATTESTATION_SUFFIX = ".intoto.json"


def attestation_path(archive: Path) -> Path:
    """Where the signed attestation of ``archive`` (and its SBOM) is written, beside it."""
    return archive.with_name(archive.name + ATTESTATION_SUFFIX)
