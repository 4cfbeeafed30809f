"""Run venvstacks through its command line.

venvstacks is started as ``<python> -m srcstacks.tools.venvstacks_main``: its console
script, started by an interpreter named ``python3.11``, looks for ``bin/python.11`` and
fails, and the module adds the changes srcstacks needs (seeded runtimes of any version,
per-platform and portable locks; see :mod:`srcstacks.tools.venvstacks_main`).
"""

from __future__ import annotations

import glob
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from srcstacks.errors import StageOrderError, StateError
from srcstacks.layout import stack_manifest_path
from srcstacks.reporting import duration
from srcstacks.state.records import read_json_state
from srcstacks.tools import pylock_urls
from srcstacks.tools.process import run_logged, tool_env

_LAYER_KINDS = ("runtimes", "frameworks", "applications")
VENVSTACKS_MODULE = "srcstacks.tools.venvstacks_main"


@dataclass(frozen=True)
class LayerMetadata:
    """venvstacks' record of one published layer (``__venvstacks__/venvstacks.json``)."""

    install_target: str  # the deployed folder: "cpython-3.11", "framework-web", "app-x@2"
    archive_name: str  # "<install_target>.tar.xz", relative to the output dir
    archive_sha256: str
    runtime_layer: str  # install target of the runtime it runs on
    required_layers: tuple[str, ...] = ()  # install targets of its frameworks
    app_launch_module: str | None = None
    python_implementation: str = ""
    target_platform: str = ""
    locked_at: str | None = None
    lock_version: str = ""
    # The layer's env name in the spec ("app-x"): its install target without the
    # "@<lock version>" venvstacks adds to a ``versioned`` layer's.
    layer_name: str = ""
    # Every key venvstacks wrote, for the SBOM's layer properties.
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Install targets of the layers directly below: its frameworks, else its runtime."""
        if self.runtime_layer == self.install_target:
            return ()
        return self.required_layers or (self.runtime_layer,)


def read_layer_metadata(manifest: Path) -> list[LayerMetadata]:
    """Each published layer in venvstacks' stack manifest: runtimes, frameworks, apps.

    A missing manifest means the archives stage has not run; a malformed one is named.
    """
    data = read_json_state(manifest, "venvstacks manifest", "srcstacks archives")
    if data is None:
        raise StageOrderError(f"{manifest}: no archives published yet (run 'srcstacks archives')")
    try:
        layers = data["layers"]
        return [_layer_metadata(item) for kind in _LAYER_KINDS for item in layers.get(kind, [])]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise StateError(
            f"{manifest}: malformed venvstacks manifest ({type(exc).__name__}: {exc});"
            " rerun 'srcstacks archives'"
        ) from None


def published_layers(output_dir: Path) -> list[LayerMetadata]:
    """venvstacks' metadata of each layer published in ``output_dir``: runtimes,
    frameworks, applications."""
    return read_layer_metadata(stack_manifest_path(output_dir))


def _layer_metadata(item: dict[str, Any]) -> LayerMetadata:
    hashes = item.get("archive_hashes") or {}
    return LayerMetadata(
        install_target=str(item["install_target"]),
        archive_name=str(item["archive_name"]),
        archive_sha256=str(hashes.get("sha256", "")),
        runtime_layer=str(item["runtime_layer"]),
        required_layers=tuple(str(name) for name in item.get("required_layers") or ()),
        app_launch_module=item.get("app_launch_module"),
        python_implementation=str(item.get("python_implementation", "")),
        target_platform=str(item.get("target_platform", "")),
        locked_at=item.get("locked_at"),
        lock_version=str(item.get("lock_version", "")),
        layer_name=str(item.get("layer_name") or item["install_target"]),
        raw=dict(item),
    )


def version() -> str:
    """The installed venvstacks' version."""
    return metadata.version("venvstacks")


def uv_version() -> str:
    """The version of uv that venvstacks runs (the ``uv`` package of this environment)."""
    return metadata.version("uv")


_CONFIGURED = re.compile(r"^Virtual environment configured in '.*/(?P<layer>[^/']+)'")
# Written by tools.venvstacks_main around each archive venvstacks compresses.
ARCHIVING = "srcstacks: archiving "  # + install target
ARCHIVED = "srcstacks: archived "  # + install target, archive bytes, seconds
_PERCENT = re.compile(r"^Archiving: \[[#-]*\] (?P<percent>\d+)\.\d+%")
# An archive still compressing after this long gets a line at each quarter done.
SLOW_ARCHIVE_SECONDS = 10.0


def progress_filter(
    report: Callable[[str], None], clock: Callable[[], float] = time.monotonic
) -> Callable[[str], None]:
    """Turn venvstacks' chatty output into one line per layer environment built, and per
    archive compressed (with its size and time; a long one also at each quarter)."""
    archive: dict[str, Any] = {}

    def watch(line: str) -> None:
        if match := _CONFIGURED.match(line):
            report(f"  environment ready: {match['layer']}")
        elif line.startswith(ARCHIVING):
            layer = line[len(ARCHIVING) :].strip()
            archive.update(layer=layer, began=clock(), quarter=0)
            report(f"  compressing {layer} (xz)")
        elif line.startswith(ARCHIVED):
            layer, size, seconds = line[len(ARCHIVED) :].split()
            report(f"  compressed {layer}: {int(size) / 1e6:.1f} MB in {duration(float(seconds))}")
            archive.clear()
        elif archive and (match := _PERCENT.match(line)):
            quarter = int(match["percent"]) // 25
            if 0 < quarter < 4 and quarter > archive["quarter"]:
                archive["quarter"] = quarter
                if clock() - archive["began"] >= SLOW_ARCHIVE_SECONDS:
                    elapsed = duration(clock() - archive["began"])
                    report(f"  compressing {archive['layer']}: {quarter * 25}% ({elapsed})")

    return watch


@dataclass(frozen=True)
class WheelSource:
    """Where venvstacks may take wheels from: the wheel dir, or one private index."""

    wheel_dir: Path
    # The index's simple URL; None: the wheel dir alone.
    index_url: str | None = None
    # The index's base URL, which the committed locks do not name (see pylock_urls).
    index_base: str | None = None

    def args(self) -> list[str]:
        """venvstacks' options: never PyPI, whichever the source."""
        if self.index_url is None:
            # --no-index plus our wheel dir: nothing from a public index is locked or installed.
            return ["--no-index", "--local-wheels", str(self.wheel_dir)]
        # The index replaces PyPI as uv's default index (below), so it is the only one.
        return ["--index"]

    def env(self) -> dict[str, str]:
        """uv's setting naming the index (tool_env drops every UV_* of the user's own),
        and the base URL that portable locks stand for."""
        if self.index_url is None:
            return {}
        base = self.index_base or self.index_url
        return {"UV_DEFAULT_INDEX": self.index_url, pylock_urls.INDEX_BASE_VARIABLE: base}


def layer_options(option: str, names: Sequence[str]) -> list[str]:
    """``option NAME`` for each layer; names are venvstacks ``fnmatch`` patterns, so
    their wildcard characters are escaped to match that layer alone."""
    return [text for name in names for text in (option, glob.escape(name))]


def lock(
    spec: Path,
    *,
    build_dir: Path,
    source: WheelSource,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    if_needed: bool = False,
    include: Sequence[str] = (),
    reset: Sequence[str] = (),
    on_line: Callable[[str], None] | None = None,
) -> str:
    """``venvstacks lock``; returns its output.

    ``if_needed`` keeps each layer's lock while venvstacks finds it valid for the spec
    (the caller still checks it against the published wheels). ``include`` locks only
    those layers (with ``if_needed``, the layers above them are left alone and the
    layers below them are locked only if they have no valid lock); ``reset`` makes
    those layers' locks from scratch.
    """
    command = [
        sys.executable, "-m", VENVSTACKS_MODULE, "lock", str(spec),
        "--build-dir", str(build_dir), *source.args(),
        *(["--if-needed"] if if_needed else []),
        *layer_options("--include", include), *layer_options("--reset-lock", reset),
    ]  # fmt: skip
    return run_logged(
        command,
        log_path=log_path,
        what="venvstacks lock",
        env=tool_env({**(env or {}), **source.env()}, uv_project_config=True),
        on_line=on_line,
    )


def build(
    spec: Path,
    *,
    build_dir: Path,
    source: WheelSource,
    output_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    include: Sequence[str] = (),
    on_line: Callable[[str], None] | None = None,
) -> str:
    """``venvstacks build --publish`` from the existing locks; returns its output.

    ``include`` builds and publishes only those layers (the layers below them are
    built if their environments are missing, never published; the layers above them
    are left alone). venvstacks then lists only those layers in its stack manifest.
    """
    command = [
        sys.executable, "-m", VENVSTACKS_MODULE, "build", str(spec),
        "--build-dir", str(build_dir), "--output-dir", str(output_dir), "--publish",
        *source.args(), *layer_options("--include", include),
    ]  # fmt: skip
    return run_logged(
        command,
        log_path=log_path,
        what="venvstacks build",
        env=tool_env({**(env or {}), **source.env()}, uv_project_config=True),
        on_line=on_line,
    )
