"""``srcstacks verify``: check that a finished build is what its records say it is.

Reads (never writes) the wheel dir and its provenance, the published archives,
venvstacks' metadata, ``__srcstacks__/build.json``, the runtime file lists, the SBOMs,
the sdists in the work dir, the patch files, and the spec with its launch and support
modules (what venvstacks writes into each layer is regenerated from them). Reports
every mismatch it finds (it does not stop at the first):

- a wheel in the wheel dir without provenance, with a different hash, or without its
  build evidence (Fromager's metadata, WHEEL tags and build tag agreeing with the file
  name, a RECORD that matches its files; see :mod:`wheel_evidence`);
- this stack's provenance records changed since the build: their sha256 differs from
  the one pinned in ``build.json`` and in every SBOM;
- an sdist or patch whose sha256 differs from what provenance records for it (an
  upstream binary has no sdist; a patch that applies to its project is not in it);
- a wheel installed in an archive that breaks the stack's mode
  (:mod:`verify_mode`): an upstream binary in full mode, or one of a project
  ``build_from_source`` lists in selective mode; in selective mode, an upstream binary
  its index no longer publishes with the recorded sha256, or of a project the selective
  plan built from source (:mod:`verify_upstream`);
- an archive that cannot be read, or whose sha256 differs from venvstacks' metadata;
- a distribution in an archive that is not a published wheel with provenance;
- a file in an archive that differs from where it came from, or that came from nowhere
  we can name (:mod:`accounting`); what venvstacks writes (the ``bin/python`` wrapper,
  launch modules...) is compared with what it writes for the spec, never with the
  hashes in the archive's own metadata;
- an archive without its SBOM, or whose SBOM is malformed or incomplete, names another
  sha256, or gives a distribution a wheel hash, an origin or a built-from-source claim
  its provenance and wheel do not back (see ``sbom check``), or was written in another
  mode than the spec's.

The summary line counts the wheels installed in the archives by origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from srcstacks.build.cache_check import read_fetched_records
from srcstacks.errors import (
    ArchiveError,
    ConfigError,
    ProvenanceError,
    SrcstacksError,
)
from srcstacks.fsutil import interrupted_publish, sha256_file
from srcstacks.layout import Layout
from srcstacks.layout.ownership import inside
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.spec.patches import applicable_patches
from srcstacks.spec.variants import venvstacks_spec_dir
from srcstacks.state.archive_reader import (
    ArchiveContents,
    WheelFiles,
    read_archive,
    read_wheel_files,
)
from srcstacks.state.provenance import (
    Manifest,
    WheelProvenance,
    describe_wheel_problem,
    read_manifest,
    records_digest,
    wheel_dir_problems,
)
from srcstacks.state.publishers import stack_wheels
from srcstacks.state.records import BuildInfo, read_build_info
from srcstacks.state.runtime_files import list_sha256, published_list_path, read_list
from srcstacks.tools.venvstacks import LayerMetadata, published_layers
from srcstacks.tools.venvstacks_writes import LayerFiles, layer_files
from srcstacks.verify.accounting import InstalledWheel, account_for_files
from srcstacks.verify.index import index_problems
from srcstacks.verify.mode import OriginCounts, mode_problems
from srcstacks.verify.sbom import check_sbom, regenerated_problems
from srcstacks.verify.upstream import upstream_problems


@dataclass
class Verification:
    """What verify looked at and what it found wrong."""

    problems: list[str] = field(default_factory=list)
    archives: int = 0
    distributions: int = 0
    wheels: int = 0
    # The wheels installed in the archives, by origin (built here, upstream binary).
    origins: OriginCounts = field(default_factory=OriginCounts)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def verify_build(config: StackConfig, report: Report = print) -> Verification:
    """Check the wheel dir, every archive and every file and distribution in it."""
    result = Verification()
    layout = Layout.of(config)
    if (journal := interrupted_publish(config.output_dir)) is not None:
        result.problems.append(
            f"{config.output_dir}: a publish of the archives was killed part way"
            f" ({journal.name} is there), so they may be a mix of two builds:"
            " rerun 'srcstacks archives' to complete it"
        )
    manifest, wheel_problems = _checked_manifest(config, result)
    result.wheels = len(manifest.wheels)
    ours = stack_wheels(layout) or frozenset(manifest.wheels)
    build_info = _build_info(layout, result)
    if build_info is not None:
        _check_pin(layout, manifest, ours, build_info, result)
    _check_sources(config, manifest, ours, result)
    result.problems.extend(index_problems(config, manifest, ours))
    result.problems.extend(upstream_problems(config, manifest, ours))
    written = _venvstacks_writes(config, result)
    for elsewhere in config.layers_elsewhere:
        report(f"  not checked here (no archive built): {elsewhere.elsewhere_note}")
    wheels: dict[str, WheelFiles] = {}
    for layer in published_layers(config.output_dir):
        archive = layout.archive(layer.archive_name)
        if not archive.is_file():
            result.problems.append(f"{archive}: archive listed by venvstacks is missing")
            continue
        try:
            contents = read_archive(archive)
        except ArchiveError as exc:
            result.problems.append(str(exc))
            continue
        result.archives += 1
        if contents.sha256 != layer.archive_sha256:
            result.problems.append(
                f"{archive.name}: sha256 differs from venvstacks' metadata"
                " (the archive was changed)"
            )
        result.problems.extend(
            f"{archive.name}: {name} has mode {mode:o} (setuid, setgid or writable by group"
            " or others), which no build gives"
            for name, mode in sorted(contents.unsafe_modes.items())
        )
        result.problems.extend(
            check_sbom(
                contents, manifest, wheel_problems, build_info, layer.layer_name, config.mode
            )
        )
        installed = _installed_wheels(config, layout, contents, manifest, wheels, result)
        runtime_files = _runtime_files(config, layer, build_info, result)
        if (layer_written := written.get(layer.layer_name)) is None:
            result.problems.append(
                f"{archive.name}: layer {layer.layer_name!r} is not a layer of"
                f" {config.spec_path.name}, so its files cannot be accounted for"
            )
            continue
        result.problems.extend(
            account_for_files(contents, layer, installed, runtime_files, layer_written)
        )
    result.problems.extend(regenerated_problems(config, manifest))
    report(
        f"checked {result.wheels} wheel(s), {result.archives} archive(s),"
        f" {result.distributions} installed distribution(s): {len(result.problems)} problem(s)"
        f" ({result.origins.summary(config.mode)})"
    )
    return result


def _checked_manifest(
    config: StackConfig, result: Verification
) -> tuple[Manifest, dict[str, list[str]]]:
    try:
        manifest = read_manifest(config.wheel_dir)
    except ProvenanceError as exc:
        result.problems.append(str(exc))
        return Manifest({}), {}
    found = wheel_dir_problems(config.wheel_dir, manifest)
    for name, problems in sorted(found.items()):
        result.problems.extend(
            f"{config.wheel_dir}: {describe_wheel_problem(name, problem)}" for problem in problems
        )
    return manifest, found


def _build_info(layout: Layout, result: Verification) -> BuildInfo | None:
    try:
        return read_build_info(layout.build_info)
    except SrcstacksError as exc:
        result.problems.append(str(exc))
        return None


def _check_pin(
    layout: Layout,
    manifest: Manifest,
    ours: frozenset[str],
    build_info: BuildInfo,
    result: Verification,
) -> None:
    if not build_info.provenance_sha256:
        result.problems.append(
            f"{layout.build_info}: pins no provenance sha256 (made by an older srcstacks);"
            " rerun 'srcstacks archives' and 'srcstacks sbom'"
        )
    elif records_digest(manifest, ours) != build_info.provenance_sha256:
        result.problems.append(
            f"{layout.provenance}: this stack's provenance records differ from the sha256"
            f" pinned in {layout.build_info} (edited after the archives were built)"
        )


def _check_sources(
    config: StackConfig, manifest: Manifest, ours: frozenset[str], result: Verification
) -> None:
    """The sdist and patches of each of this stack's wheels still have their recorded sha256."""
    downloads = Layout.of(config).fromager.downloaded_sdists
    # Wheels fetched from the private index had their sdist's sha256 checked against
    # the upstream index when fetched; no sdist was downloaded here for them.
    fetched = read_fetched_records(config)
    checked: set[Path] = set()
    for name in sorted(ours):
        record = manifest.wheels.get(name)
        if record is None:
            continue
        if record.sdist is None or record.upstream is not None:
            # An upstream binary: no sdist was used; its bytes are checked against the
            # sha256 its index published (provenance.evidence_problems).
            result.problems.extend(_unapplied_patches(config, name, record))
            continue
        try:
            sdist = inside(downloads, record.sdist.filename, "sdist file name")
            patches = [(inside(config.spec_dir, p.path, "patch path"), p) for p in record.patches]
        except SrcstacksError as exc:
            result.problems.append(f"{name}: {exc}")
            continue
        fetched_here = fetched.get(name) == record and not sdist.is_file()
        if not fetched_here and sdist not in checked:
            checked.add(sdist)
            if not sdist.is_file():
                result.problems.append(
                    f"{name}: its sdist {sdist} is gone, so its sha256 cannot be checked"
                    " (verify where the build's work dir is)"
                )
            elif sha256_file(sdist) != record.sdist.sha256:
                result.problems.append(f"{name}: {sdist} differs from the sdist sha256 recorded")
        for path, patch in patches:
            if not path.is_file():
                result.problems.append(f"{name}: patch {patch.path} recorded for it is missing")
            elif sha256_file(path) != patch.sha256:
                result.problems.append(
                    f"{name}: patch {patch.path} differs from the sha256 recorded for it"
                )
        recorded = {path.resolve() for path, _ in patches}
        applying = applicable_patches(
            config.patches_dir, record.project, record.version, record.variant
        )
        for path in applying:
            if path.resolve() not in recorded:
                result.problems.append(
                    f"{name}: patch {path} applies to {record.project} {record.version} but"
                    " its provenance records no such patch (provenance edited, or the patch"
                    " added since the build: rerun 'srcstacks build')"
                )


def _unapplied_patches(config: StackConfig, name: str, record: WheelProvenance) -> list[str]:
    """Patches of ``patches/`` for the project of an upstream binary: none is in it."""
    return [
        f"{name}: patch {path} applies to {record.project} {record.version}, but the wheel"
        " is an upstream binary, so the patch is not in it (add the project to"
        " 'tool.srcstacks.build_from_source' and rerun 'srcstacks build')"
        for path in applicable_patches(
            config.patches_dir, record.project, record.version, record.variant
        )
    ]


def _venvstacks_writes(config: StackConfig, result: Verification) -> dict[str, LayerFiles]:
    """What venvstacks writes into each layer, regenerated from the spec it was given."""
    variant_spec = venvstacks_spec_dir(config) / config.spec_path.name
    try:
        return layer_files(variant_spec if variant_spec.is_file() else config.spec_path)
    except ConfigError as exc:
        result.problems.append(str(exc))
        return {}


def _installed_wheels(
    config: StackConfig,
    layout: Layout,
    contents: ArchiveContents,
    manifest: Manifest,
    wheels: dict[str, WheelFiles],
    result: Verification,
) -> list[InstalledWheel]:
    installed = []
    for dist in contents.dists:
        result.distributions += 1
        record = manifest.installed_from(dist)
        if record is None:
            result.problems.append(
                f"{contents.archive.name}: {dist.name} {dist.version} is not a published wheel"
                " with provenance"
            )
            continue
        result.origins.add(record)
        result.problems.extend(mode_problems(contents.archive.name, record, config.mode))
        if record.filename not in wheels:
            wheel = layout.wheel(record.filename)
            wheels[record.filename] = read_wheel_files(wheel) if wheel.is_file() else WheelFiles({})
        files = wheels[record.filename]
        if not files.record:
            result.problems.append(
                f"{contents.archive.name}: {record.filename} is missing from the wheel dir"
            )
            continue
        installed.append(InstalledWheel(dist, record.filename, files))
    return installed


def _runtime_files(
    config: StackConfig, layer: LayerMetadata, build_info: BuildInfo | None, result: Verification
) -> dict[str, str] | None:
    """The runtime's file list of a runtime layer (None for other layers)."""
    if layer.runtime_layer != layer.install_target:
        return None
    path = published_list_path(config.output_dir, layer.layer_name)
    try:
        entries = read_list(path)
    except SrcstacksError as exc:
        result.problems.append(str(exc))
        return {}
    if entries is None:
        result.problems.append(
            f"{path}: no runtime file list, so the runtime's files cannot be accounted for"
            " (rerun 'srcstacks archives')"
        )
        return {}
    pinned = build_info.runtime_files.get(layer.layer_name) if build_info else None
    if pinned != list_sha256(entries):
        result.problems.append(f"{path}: differs from the sha256 pinned in build.json")
    return entries
