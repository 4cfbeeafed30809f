"""Read a venvstacks stack spec and its ``[tool.srcstacks]`` table into one typed config.

This module (with :mod:`srcstacks.spec.layers` for the layers and
:mod:`srcstacks.spec.rules` for what spec text may say) is the only one that parses
configuration. Every other module receives a :class:`StackConfig` and the paths it
derives; nothing else opens the spec for its settings. Every check runs here, when the
spec is read, so bad text stops a run before anything is built or deleted.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from srcstacks.errors import ConfigError
from srcstacks.layout import default_output_dir, default_wheel_dir
from srcstacks.spec import rules as spec_rules
from srcstacks.spec.archive import DEFAULT_XZ_PRESET, XZ_PRESET_KEY, parse_xz_preset
from srcstacks.spec.cargo import CargoSource, parse_cargo_table
from srcstacks.spec.index import IndexSettings as IndexSettings
from srcstacks.spec.index import index_with_overrides, parse_index_table
from srcstacks.spec.keys import check_keys
from srcstacks.spec.layers import Layer as Layer
from srcstacks.spec.layers import LayerKind as LayerKind
from srcstacks.spec.layers import parse_layers
from srcstacks.spec.mode import BuildMode as BuildMode
from srcstacks.spec.mode import parse_mode
from srcstacks.spec.parity import EXCEPTIONS_KEY, PARITY_KEY, Parity, parse_parity
from srcstacks.spec.runtime import RUNTIME_KEYS, check_runtime_source, parse_runtime_table
from srcstacks.spec.runtime import RuntimeSource as RuntimeSource
from srcstacks.spec.runtime import RuntimeSourceKind as RuntimeSourceKind
from srcstacks.spec.sbom import SbomParty as SbomParty
from srcstacks.spec.sbom import SbomSettings as SbomSettings
from srcstacks.spec.sbom import parse_sbom_table
from srcstacks.spec.uv_settings import UploadCutoff, upload_cutoff

DEFAULT_SPEC_NAME = "venvstacks.toml"
DEFAULT_VARIANT = "cpu"

_VARIANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class StackConfig:
    """Everything the pipeline needs to know, with every path made absolute."""

    spec_path: Path
    layers: tuple[Layer, ...]
    settings_dir: Path
    patches_dir: Path
    variant: str
    work_dir: Path
    wheel_dir: Path
    output_dir: Path
    runtime: RuntimeSource = field(default_factory=RuntimeSource)
    sbom: SbomSettings = field(default_factory=SbomSettings)
    # The variant the spec itself names (or Fromager's default); its locks live beside
    # the spec, every other variant's under variants/<name>/ (see spec/variants.py).
    spec_variant: str = DEFAULT_VARIANT
    # None: the wheel dir alone is the home of the wheels (the offline default).
    index: IndexSettings | None = None
    # Everything from source (the default), or only what has no binary wheel upstream.
    mode: BuildMode = field(default_factory=BuildMode)
    # ``[tool.srcstacks.runtime."<layer>"]``: a runtime layer's own source, by layer name.
    runtimes: tuple[tuple[str, RuntimeSource], ...] = ()
    # ``[tool.srcstacks.cargo]``: a crates mirror or folder in place of crates.io.
    cargo: CargoSource | None = None
    # The xz preset of the layer archives (see :mod:`srcstacks.spec.archive`).
    xz_preset: int = DEFAULT_XZ_PRESET
    # What a wheel lacking what its upstream binary ships does (:mod:`srcstacks.spec.parity`).
    parity: Parity = field(default_factory=Parity)
    # uv's ``exclude-newer`` settings, applied to the sources Fromager resolves
    # (:mod:`srcstacks.spec.uv_settings`).
    upload_cutoff: UploadCutoff = field(default_factory=UploadCutoff)

    def runtime_of(self, layer: Layer) -> RuntimeSource:
        """Where the runtime layer ``layer``'s CPython comes from: its own table, else
        ``[tool.srcstacks.runtime]``."""
        return dict(self.runtimes).get(layer.name, self.runtime)

    @property
    def runtime_sources(self) -> list[tuple[Layer, RuntimeSource]]:
        """Every runtime layer with its source, in spec order."""
        return [(layer, self.runtime_of(layer)) for layer in self.layers_of("runtime")]

    @property
    def spec_dir(self) -> Path:
        """The folder holding the stack spec; config paths are relative to it."""
        return self.spec_path.parent

    def module_file(self, module: str) -> Path:
        """The launch or support module file the spec names ``module``, to read (never to
        write: it may lie beside the spec's folder, :func:`spec_rules.check_module_paths`)."""
        return Path(os.path.normpath(self.spec_dir / module))

    def layer(self, name: str) -> Layer:
        """Return the layer called ``name`` (its spec name, not its env name)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ConfigError(f"{self.spec_path}: no layer named {name!r}")

    def stack_of(self, layer: Layer) -> list[Layer]:
        """``layer`` and every layer below it (frameworks, then the runtime), each once."""
        by_env_name = {candidate.env_name: candidate for candidate in self.layers}
        stack: list[Layer] = []
        pending = [layer]
        while pending:
            current = pending.pop(0)
            if current not in stack:
                stack.append(current)
                pending.extend(by_env_name[name] for name in current.depends_on)
        return stack

    def layers_of(self, kind: LayerKind) -> list[Layer]:
        """The layers of one kind, in spec order."""
        return [layer for layer in self.layers if layer.kind == kind]

    @property
    def built_layers(self) -> tuple[Layer, ...]:
        """The layers this machine's platform builds archives of (all are locked)."""
        return tuple(layer for layer in self.layers if layer.built_here)

    @property
    def layers_elsewhere(self) -> tuple[Layer, ...]:
        """The layers whose ``platforms`` leave out this machine's: built on other hosts."""
        return tuple(layer for layer in self.layers if not layer.built_here)


@dataclass(frozen=True)
class Overrides:
    """Command-line options; each one that is set wins over ``[tool.srcstacks]``."""

    settings_dir: Path | None = None
    patches_dir: Path | None = None
    variant: str | None = None
    work_dir: Path | None = None
    wheel_dir: Path | None = None
    output_dir: Path | None = None
    runtime_source: RuntimeSourceKind | None = None
    runtime_path: Path | None = None
    runtime_mirror_url: str | None = None
    runtime_interpreter: str | None = None
    index_url: str | None = None
    # --no-index: the wheel dir alone, whatever the spec's [tool.srcstacks.index] says.
    no_index: bool = False
    # --index-port: the port of the managed index, over [tool.srcstacks.index] port.
    index_port: int | None = None


def load_config(spec: Path, overrides: Overrides | None = None) -> StackConfig:
    """Parse ``spec`` (a venvstacks stack spec) and apply command-line ``overrides``."""
    spec_path = spec_location(spec)
    data = _read_toml(spec_path)
    layers = parse_layers(spec_path, data)
    tool_table = _table(spec_path, data.get("tool", {}), "tool").get("srcstacks", {})
    spec_rules.check_no_uv_indexes(spec_path, data)
    runtime_names = [layer.name for layer in layers if layer.kind == "runtime"]
    settings = _parse_tool_table(
        spec_path, _table(spec_path, tool_table, "tool.srcstacks"), runtime_names
    )
    config = _resolve(spec_path, layers, settings, overrides or Overrides())
    config = replace(config, upload_cutoff=upload_cutoff(spec_path))
    check_runtime_source(config.runtime, config.spec_path)
    for name, source in config.runtimes:
        check_runtime_source(source, config.spec_path, f'[tool.srcstacks.runtime."{name}"]')
    return config


def spec_location(spec: Path) -> Path:
    """The spec's absolute path, made as venvstacks makes it: ``..`` removed lexically,
    symlinks kept. A spec reached through a link therefore finds ``build-settings/``,
    ``patches/``, launch modules and ``requirements/`` beside the link, as venvstacks does.
    """
    spec_path = Path(os.path.abspath(os.path.expanduser(spec)))
    if spec_path.is_dir():
        spec_path = spec_path / DEFAULT_SPEC_NAME
    return spec_path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no stack spec here (pass the path of a venvstacks.toml)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the stack spec: {exc.strerror}") from None


def _table(spec_path: Path, value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{spec_path}: [{key}] must be a table")
    return value


_TOOL_KEYS = {
    "settings_dir": str,
    "patches_dir": str,
    "variant": str,
    "work_dir": str,
    "wheel_dir": str,
    "output_dir": str,
    "runtime": dict,
    "sbom": dict,
    "index": dict,
    "mode": str,
    "build_from_source": list,
    "cargo": dict,
    XZ_PRESET_KEY: int,
    PARITY_KEY: str,
    EXCEPTIONS_KEY: list,
}


@dataclass(frozen=True)
class _Named:
    """A path set explicitly, by the spec or a command-line option, and who set it."""

    path: Path
    origin: str  # "'tool.srcstacks.patches_dir'" or "--patches-dir", for messages


@dataclass(frozen=True)
class _ToolTable:
    """``[tool.srcstacks]`` as written: only the paths it sets, not their defaults."""

    named: dict[str, _Named]
    variant: str | None
    runtime: RuntimeSource
    sbom: SbomSettings
    index: IndexSettings | None
    mode: BuildMode
    runtimes: tuple[tuple[str, RuntimeSource], ...] = ()
    cargo: CargoSource | None = None
    xz_preset: int = DEFAULT_XZ_PRESET
    parity: Parity = field(default_factory=Parity)


_PATH_KEYS = ("settings_dir", "patches_dir", "work_dir", "wheel_dir", "output_dir")
# Folders srcstacks reads: one named explicitly must exist, or a typo builds unpatched.
_INPUT_DIRS = ("settings_dir", "patches_dir")


def _parse_tool_table(
    spec_path: Path, table: Mapping[str, Any], runtime_names: Sequence[str] = ()
) -> _ToolTable:
    check_keys(spec_path, table, _TOOL_KEYS, "tool.srcstacks")
    runtime_table = dict(table.get("runtime", {}))
    # A table named after a runtime layer is that layer's own, over the shared keys.
    own_tables = {
        name: runtime_table.pop(name)
        for name in runtime_names
        if isinstance(runtime_table.get(name), Mapping)
    }
    check_keys(spec_path, runtime_table, RUNTIME_KEYS, "tool.srcstacks.runtime")
    runtimes = []
    for name, own in own_tables.items():
        check_keys(spec_path, own, RUNTIME_KEYS, f'tool.srcstacks.runtime."{name}"')
        runtimes.append((name, parse_runtime_table(spec_path, {**runtime_table, **own})))
    sbom = parse_sbom_table(spec_path, table.get("sbom", {}))
    spec_dir = spec_path.parent
    named = {
        key: _Named((spec_dir / table[key]).absolute(), f"'tool.srcstacks.{key}'")
        for key in _PATH_KEYS
        if key in table
    }
    variant = table.get("variant")
    if variant is not None:
        _check_variant(spec_path, variant)
    runtime = parse_runtime_table(spec_path, runtime_table)
    index = parse_index_table(spec_path, table.get("index"))
    mode = parse_mode(spec_path, table)
    cargo = parse_cargo_table(spec_path, table.get("cargo"))
    xz_preset = parse_xz_preset(spec_path, table)
    parity = parse_parity(spec_path, table)
    return _ToolTable(
        named, variant, runtime, sbom, index, mode, tuple(runtimes), cargo, xz_preset, parity
    )


def _check_variant(origin: Path | str, variant: str) -> None:
    if not _VARIANT_PATTERN.match(variant):
        raise ConfigError(f"{origin}: variant {variant!r} must be letters, digits, '.', '_' or '-'")


def _resolve(
    spec_path: Path, layers: tuple[Layer, ...], table: _ToolTable, overrides: Overrides
) -> StackConfig:
    """Apply the command-line ``overrides``, then derive every path not set explicitly.

    Defaults are derived from the final work dir and variant, so ``--variant gpu`` or
    ``work_dir = "build"`` moves the wheel and output dirs with them and variants never
    share (or prune) each other's wheels. An explicit wheel or output dir always wins.
    """
    named = dict(table.named)
    for key in _PATH_KEYS:
        value: Path | None = getattr(overrides, key)
        if value is not None:
            named[key] = _Named(value.absolute(), "--" + key.replace("_", "-"))
    if overrides.variant is not None:
        _check_variant("--variant", overrides.variant)
    spec_variant = table.variant or DEFAULT_VARIANT
    variant = overrides.variant or spec_variant
    spec_dir = spec_path.parent
    for key in _INPUT_DIRS:
        if key in named:
            _check_named_folder(spec_path, named[key])

    def path(key: str, default: Path) -> Path:
        return named[key].path if key in named else default

    work_dir = path("work_dir", spec_dir / "_srcstacks")
    return StackConfig(
        spec_path=spec_path,
        layers=layers,
        settings_dir=path("settings_dir", spec_dir / "build-settings"),
        patches_dir=path("patches_dir", spec_dir / "patches"),
        variant=variant,
        spec_variant=spec_variant,
        work_dir=work_dir,
        wheel_dir=path("wheel_dir", default_wheel_dir(work_dir, variant)),
        output_dir=path("output_dir", default_output_dir(work_dir, variant)),
        runtime=_runtime_overrides(table.runtime, overrides),
        sbom=table.sbom,
        index=index_with_overrides(
            table.index, overrides.index_url, overrides.index_port, no_index=overrides.no_index
        ),
        mode=table.mode,
        # Command-line options are for every runtime: they win over each one's table.
        runtimes=tuple(
            (name, _runtime_overrides(source, overrides)) for name, source in table.runtimes
        ),
        cargo=table.cargo,
        xz_preset=table.xz_preset,
        parity=table.parity,
    )


def _check_named_folder(spec_path: Path, named: _Named) -> None:
    if named.path.is_dir():
        return
    problem = "is not a folder" if named.path.exists() else "does not exist"
    where = named.origin if named.origin.startswith("--") else f"{spec_path}: {named.origin}"
    raise ConfigError(
        f"{where} names {named.path}, which {problem}"
        " (a folder named explicitly must exist; without it nothing would be applied)"
    )


def _runtime_overrides(runtime: RuntimeSource, overrides: Overrides) -> RuntimeSource:
    if overrides.runtime_source is not None:
        runtime = replace(runtime, kind=overrides.runtime_source)
    if overrides.runtime_path is not None:
        runtime = replace(runtime, path=overrides.runtime_path.absolute())
    if overrides.runtime_mirror_url is not None:
        runtime = replace(runtime, mirror_url=overrides.runtime_mirror_url)
    if overrides.runtime_interpreter is not None:
        runtime = replace(runtime, interpreter=overrides.runtime_interpreter)
    return runtime
