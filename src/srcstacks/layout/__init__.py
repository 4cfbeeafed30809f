"""Where everything lives: the only code that joins names onto srcstacks' folders.

:class:`Layout` derives every path srcstacks reads or writes for one stack and variant:
the work dir's state files and tool folders (``<work_dir>/<variant>/...``), the wheel dir
and the output dir; :class:`~srcstacks.layout.fromager.FromagerDirs` the folders
Fromager works in. No module outside this package joins a name onto those folders
(``tests/test_layout_joins.py`` fails when one does); a name read from a file or the
spec goes through :func:`~srcstacks.layout.ownership.inside`, which keeps it there.

Deleting is :mod:`srcstacks.layout.ownership`'s, and only inside a folder srcstacks
created and can prove it did.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from srcstacks.layout.fromager import FromagerDirs
from srcstacks.layout.ownership import inside


class _Roots(Protocol):
    """What :meth:`Layout.of` reads of a stack's config (a ``StackConfig``)."""

    @property
    def spec_path(self) -> Path: ...
    @property
    def work_dir(self) -> Path: ...
    @property
    def variant(self) -> str: ...
    @property
    def wheel_dir(self) -> Path: ...
    @property
    def output_dir(self) -> Path: ...


@dataclass(frozen=True)
class Layout:
    """Every path of one stack and variant. Build it with :meth:`of`."""

    spec_path: Path
    work_dir: Path
    variant: str
    wheel_dir: Path
    output_dir: Path

    @classmethod
    def of(cls, config: _Roots) -> Layout:
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
        return variant_dir(self.work_dir, self.variant)

    @property
    def parallel_builds(self) -> Path:
        """Where the local executor's builds work (``--jobs`` above 1)."""
        return self.variant_dir / "parallel-builds"

    @property
    def run_logs(self) -> Path:
        """One folder of logs per wheels run."""
        return self.variant_dir / "logs" / "runs"

    def run_log_folder(self, name: str) -> Path:
        """The logs of one wheels run, by its folder name."""
        return inside(self.run_logs, name, "run folder name")

    @property
    def runtime_files(self) -> Path:
        """The file lists of the seeded runtimes."""
        return self.variant_dir / "runtime-files"

    def runtime_file_list(self, env_name: str) -> Path:
        """The file list of one seeded runtime layer."""
        return inside(self.runtime_files, f"{env_name}.json", "layer name")

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
    def parity_record(self) -> Path:
        """Each wheel built here against the upstream binary of its version."""
        return self.variant_dir / "parity.json"

    @property
    def parity_wheels(self) -> Path:
        """The upstream binaries the parity check downloaded, kept for the next run."""
        return self.variant_dir / "parity-wheels"

    def parity_wheel(self, filename: str) -> Path:
        """One upstream binary the parity check compares with, by file name."""
        return inside(self.parity_wheels, filename, "wheel file name")

    @property
    def index_node_info(self) -> Path:
        """The managed index's identity: devpi-init writes it, ``index reset`` removes it."""
        return self.index_state / "devpi" / ".nodeinfo"

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
        return self.publisher_file(self.stack_id)

    def publisher_file(self, publisher: str) -> Path:
        """The record of the wheels one publisher put into the wheel dir."""
        return inside(self.publishers, f"{publisher}.json", "publisher name")

    @property
    def provenance(self) -> Path:
        """The provenance manifest beside the published wheels."""
        return provenance_path(self.wheel_dir)

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
        return srcstacks_records(self.output_dir) / "wheels"

    def wheel_attestation(self, wheel_name: str) -> Path:
        """The signed attestation of one wheel built here, by its file name."""
        return inside(self.wheel_attestations, wheel_name + ATTESTATION_SUFFIX, "wheel name")


# --- paths that code holding only a root folder (no Layout) needs --------------------


def variant_dir(work_dir: Path, variant: str) -> Path:
    """``<work_dir>/<variant>``: one variant's private state (the variant name is checked
    when the spec is read)."""
    return work_dir / variant


def default_wheel_dir(work_dir: Path, variant: str) -> Path:
    """The wheel dir when neither the spec nor the command line names one."""
    return variant_dir(work_dir, variant) / "wheels"


def default_output_dir(work_dir: Path, variant: str) -> Path:
    """The output dir when neither the spec nor the command line names one."""
    return variant_dir(work_dir, variant) / "artifacts"


def lock_path(work_dir: Path) -> Path:
    """The work dir's lock file: one srcstacks run at a time (:mod:`srcstacks.worklock`)."""
    return work_dir / ".lock"


def tool_config_dir(work_dir: Path) -> Path:
    """The empty config folders external tools get in a run (:mod:`srcstacks.tools.process`)."""
    return work_dir / "tool-config"


PROVENANCE_NAME = "provenance.json"


def provenance_path(wheel_dir: Path) -> Path:
    """``provenance.json`` of a wheel dir, this stack's or one being collected."""
    return wheel_dir / PROVENANCE_NAME


def srcstacks_records(output_dir: Path) -> Path:
    """``__srcstacks__/`` of an output dir (or a staging folder): srcstacks' own records."""
    return output_dir / "__srcstacks__"


def runtime_file_list_published(output_dir: Path, env_name: str) -> Path:
    """The file list of a runtime layer, published beside the archives."""
    return inside(srcstacks_records(output_dir), f"{env_name}.runtime-files.json", "layer name")


def build_info_path(output_dir: Path) -> Path:
    """``__srcstacks__/build.json`` of an output dir (or a staging folder)."""
    return srcstacks_records(output_dir) / "build.json"


def stack_manifest_path(output_dir: Path) -> Path:
    """venvstacks' ``__venvstacks__/venvstacks.json`` of an output dir."""
    return output_dir / "__venvstacks__" / "venvstacks.json"


SBOM_SUFFIX = ".cdx.json"


def sbom_path(archive: Path) -> Path:
    """Where the SBOM of ``archive`` is written: ``<archive name>.cdx.json`` beside it."""
    return archive.with_name(archive.name + SBOM_SUFFIX)


ATTESTATION_SUFFIX = ".intoto.json"


def attestation_path(archive: Path) -> Path:
    """Where the signed attestation of ``archive`` (and its SBOM) is written, beside it."""
    return archive.with_name(archive.name + ATTESTATION_SUFFIX)
