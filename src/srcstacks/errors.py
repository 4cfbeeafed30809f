"""The exceptions srcstacks raises: one base class, a few kinds a user can act on.

Every message is written to be printed as one line by the CLI, naming the file, key,
package or log path involved and, where possible, what to do about it.
"""

from __future__ import annotations


class SrcstacksError(Exception):
    """Base class: anything srcstacks reports to the user as a clean error."""


class ConfigError(SrcstacksError):
    """The stack spec, its ``[tool.srcstacks]`` table or a command-line option is wrong."""


class ToolError(SrcstacksError):
    """An external tool (fromager, venvstacks, uv, patchelf) failed."""

    def __init__(self, message: str, log_path: str | None = None) -> None:
        self.reason = message  # without the log's path, for a caller that rewords it
        if log_path:
            message = f"{message} (log: {log_path})"
        super().__init__(message)
        self.log_path = log_path


class BuildError(ToolError):
    """Building a wheel from source failed."""


class ProvenanceError(SrcstacksError):
    """A wheel has no provenance, or does not match the provenance recorded for it."""


class SourceIntegrityError(SrcstacksError):
    """A downloaded sdist does not match what its package index publishes for it."""


class RuntimeSourceError(SrcstacksError):
    """The Python runtime for the runtime layer is missing, corrupt or the wrong version."""


class StageOrderError(SrcstacksError):
    """A stage was run before the stage whose output it reads."""


class BusyError(SrcstacksError):
    """Another srcstacks run holds the lock on the same work directory."""


class PublishError(SrcstacksError):
    """Publishing finished artifacts to their destination failed; the old ones are intact."""


class SbomError(SrcstacksError):
    """An SBOM cannot be made or read: unknown target, unreadable lower-layer SBOM, ..."""


class OwnershipError(SrcstacksError):
    """A path is outside the folder it belongs to, or a folder was not made by srcstacks."""


class StateError(SrcstacksError):
    """A state file in the work dir, or a tool's output file, is missing or unreadable."""


class ToolStartError(ToolError):
    """An external tool could not be started at all (missing, not executable)."""


class ConstraintsConflictError(ToolError):
    """Fromager built a graph needing two versions of one project, so no constraints file."""


class PatchFailedError(BuildError):
    """A patch from the patches dir does not apply to the source it is meant for."""


class UnreachableError(SrcstacksError):
    """An index the run must download from cannot be reached from this machine."""


class DownloadError(BuildError):
    """Fetching a project's source failed (network, index, cut-off download)."""


class SettingsRejectedError(ConfigError):
    """Fromager refused a build-settings file: an unknown key or a value of the wrong type."""


class ArchiveError(SrcstacksError):
    """A layer archive cannot be read: not a tar, truncated, or corrupt compression."""


class PrivateIndexError(SrcstacksError):
    """The private index is unreachable, refuses us, or is not private enough to trust."""


class IndexServerError(SrcstacksError):
    """A package index server refused a request, answered nonsense or cannot be reached."""


class RuntimeBuildError(BuildError):
    """Building CPython from its source tarball failed (configure, make, a missing header)."""


class ExecutorError(SrcstacksError):
    """Builds cannot be handed out: a Dask scheduler unreachable, a worker refused or broken."""


class CollectError(SrcstacksError):
    """``srcstacks collect`` refused a wheel dir: a wheel without matching provenance, or
    one file name with two contents; nothing was collected."""


class ResolutionError(SrcstacksError):
    """A layer's requirements do not resolve for a target platform (uv's reason given)."""


class MissingWheelsError(SrcstacksError):
    """A layer cannot be locked: a platform it targets lacks wheels that nothing here builds."""


class OtherPlatformWheelError(SrcstacksError):
    """A requirement applies only on platforms this machine does not build, and the
    wheel dir holds no wheel of it: venvstacks' lock (every platform) would fail."""


class AttestationError(SrcstacksError):
    """A signing key, a signature or an attestation is missing, wrong or unreadable."""
