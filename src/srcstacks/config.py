"""Read a venvstacks stack spec and its ``[tool.srcstacks]`` table into one typed config.

This is the only module that parses configuration. Every other module receives a
:class:`StackConfig` and the paths it derives; nothing else opens the spec for its
settings.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement

from srcstacks.errors import ConfigError

LayerKind = Literal["runtime", "framework", "application"]
RuntimeSourceKind = Literal["download", "mirror", "local", "pack"]

DEFAULT_SPEC_NAME = "venvstacks.toml"
DEFAULT_VARIANT = "cpu"

_SECTION_KINDS: dict[str, LayerKind] = {
    "runtimes": "runtime",
    "frameworks": "framework",
    "applications": "application",
}
# venvstacks' own prefixes for the deployed folder of each layer kind.
_ENV_PREFIX: dict[LayerKind, str] = {
    "runtime": "",
    "framework": "framework-",
    "application": "app-",
}
_RUNTIME_SOURCES: tuple[RuntimeSourceKind, ...] = ("download", "mirror", "local", "pack")
_VARIANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Layer:
    """One layer of the stack, as declared in the spec."""

    kind: LayerKind
    name: str
    requirements: tuple[Requirement, ...]
    # Env names of the layers this one is built on: its runtime, or its frameworks.
    depends_on: tuple[str, ...] = ()
    # Runtime layers only: venvstacks' ``python_implementation``, e.g. ``cpython@3.11.7``.
    python_implementation: str | None = None

    @property
    def env_name(self) -> str:
        """The folder venvstacks deploys this layer into (``framework-x``, ``app-y``)."""
        return _ENV_PREFIX[self.kind] + self.name

    @property
    def python_version(self) -> str | None:
        """``X.Y.Z`` of a runtime layer's interpreter."""
        if self.python_implementation is None:
            return None
        return self.python_implementation.partition("@")[2]


@dataclass(frozen=True)
class RuntimeSource:
    """Where the runtime layer's CPython comes from (see docs/runtime.md)."""

    kind: RuntimeSourceKind = "download"
    # mirror: folder or URL holding python-build-standalone's original file names.
    mirror_url: str | None = None
    # local: an install_only-layout CPython, as a folder or a .tar.gz.
    path: Path | None = None
    # pack: the interpreter whose installation is packed (default: the one running us).
    interpreter: str | None = None


@dataclass(frozen=True)
class SbomParty:
    """An organisation or person named in the SBOMs: supplier, manufacturer or author."""

    name: str
    url: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class SbomSettings:
    """``[tool.srcstacks.sbom]``: who supplies, makes and wrote the layer archives' SBOMs.

    Auditors' minimum elements (NTIA, BSI TR-03183-2) ask for the SBOM's author and each
    component's supplier; nothing in the archives says who that is, so the spec does.
    """

    supplier: SbomParty | None = None
    manufacturer: SbomParty | None = None
    authors: tuple[SbomParty, ...] = ()


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
    # the spec, every other variant's under variants/<name>/ (see stages/variant_spec.py).
    spec_variant: str = DEFAULT_VARIANT

    @property
    def spec_dir(self) -> Path:
        """The folder holding the stack spec; config paths are relative to it."""
        return self.spec_path.parent

    @property
    def variant_dir(self) -> Path:
        """Private working state of this variant: Fromager's repos, venvstacks' build dir."""
        return self.work_dir / self.variant

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


def load_config(spec: Path, overrides: Overrides | None = None) -> StackConfig:
    """Parse ``spec`` (a venvstacks stack spec) and apply command-line ``overrides``."""
    spec_path = spec.absolute()
    if spec_path.is_dir():
        spec_path = spec_path / DEFAULT_SPEC_NAME
    data = _read_toml(spec_path)
    layers = _parse_layers(spec_path, data)
    tool_table = _table(spec_path, data.get("tool", {}), "tool").get("srcstacks", {})
    config = _parse_tool_table(spec_path, _table(spec_path, tool_table, "tool.srcstacks"), layers)
    if overrides is not None:
        config = _apply_overrides(config, overrides)
    _check_runtime_source(config)
    return config


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
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the stack spec: {exc.strerror}") from None


def _table(spec_path: Path, value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{spec_path}: [{key}] must be a table")
    return value


def _parse_layers(spec_path: Path, data: Mapping[str, Any]) -> tuple[Layer, ...]:
    layers: list[Layer] = []
    seen: dict[str, LayerKind] = {}
    for section, kind in _SECTION_KINDS.items():
        entries = data.get(section, [])
        if not isinstance(entries, list):
            raise ConfigError(f"{spec_path}: [[{section}]] must be an array of tables")
        for index, entry in enumerate(entries):
            where = f"{spec_path}: [[{section}]] #{index + 1}"
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{where} must be a table")
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{where}: missing 'name'")
            where = f"{spec_path}: {kind} layer {name!r}"
            if name in seen and seen[name] == kind:
                raise ConfigError(f"{where} is defined twice")
            seen[name] = kind
            layers.append(_parse_layer(where, kind, name, entry, layers))
    if not any(layer.kind == "runtime" for layer in layers):
        raise ConfigError(f"{spec_path}: the stack defines no [[runtimes]] layer")
    return tuple(layers)


def _parse_layer(
    where: str, kind: LayerKind, name: str, entry: Mapping[str, Any], earlier: list[Layer]
) -> Layer:
    raw_requirements = entry.get("requirements", [])
    if not isinstance(raw_requirements, list) or not all(
        isinstance(item, str) for item in raw_requirements
    ):
        raise ConfigError(f"{where}: 'requirements' must be a list of strings")
    requirements: list[Requirement] = []
    for raw in raw_requirements:
        try:
            requirements.append(Requirement(raw))
        except InvalidRequirement as exc:
            raise ConfigError(f"{where}: invalid requirement {raw!r}: {exc}") from None
    if kind == "runtime":
        implementation = entry.get("python_implementation")
        if not isinstance(implementation, str) or "@" not in implementation:
            raise ConfigError(f"{where}: 'python_implementation' must look like 'cpython@3.11.7'")
        return Layer(kind, name, tuple(requirements), (), implementation)
    return Layer(kind, name, tuple(requirements), _parse_depends_on(where, entry, earlier))


def _parse_depends_on(
    where: str, entry: Mapping[str, Any], earlier: list[Layer]
) -> tuple[str, ...]:
    runtimes = {layer.name for layer in earlier if layer.kind == "runtime"}
    frameworks = {layer.name for layer in earlier if layer.kind == "framework"}
    runtime = entry.get("runtime")
    declared_frameworks = entry.get("frameworks")
    if runtime is not None and declared_frameworks is not None:
        raise ConfigError(f"{where}: give 'runtime' or 'frameworks', not both")
    if runtime is not None:
        if not isinstance(runtime, str):
            raise ConfigError(f"{where}: 'runtime' must be a layer name")
        if runtime not in runtimes:
            raise ConfigError(
                f"{where}: 'runtime' names unknown runtime layer {runtime!r}"
                f" (defined: {', '.join(sorted(runtimes)) or 'none'})"
            )
        return (runtime,)
    if isinstance(declared_frameworks, str):
        declared_frameworks = [declared_frameworks]
    if not isinstance(declared_frameworks, list) or not declared_frameworks:
        raise ConfigError(f"{where}: needs 'runtime' or a non-empty 'frameworks' list")
    for framework in declared_frameworks:
        if framework not in frameworks:
            raise ConfigError(
                f"{where}: 'frameworks' names unknown framework layer {framework!r}"
                f" (defined before it: {', '.join(sorted(frameworks)) or 'none'})"
            )
    return tuple(_ENV_PREFIX["framework"] + framework for framework in declared_frameworks)


_TOOL_KEYS = {
    "settings_dir": str,
    "patches_dir": str,
    "variant": str,
    "work_dir": str,
    "wheel_dir": str,
    "output_dir": str,
    "runtime": dict,
    "sbom": dict,
}
_RUNTIME_KEYS = {"source": str, "path": str, "mirror_url": str, "interpreter": str}
_SBOM_KEYS: dict[str, type | tuple[type, ...]] = {
    "supplier": (str, dict),
    "manufacturer": (str, dict),
    "authors": list,
}
_PARTY_KEYS = {"name": str, "url": str, "email": str}


_KIND_NAMES: dict[type, str] = {dict: "a table", str: "a string", list: "a list"}


def _check_keys(
    spec_path: Path,
    table: Mapping[str, Any],
    allowed: Mapping[str, type | tuple[type, ...]],
    prefix: str,
) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(
                f"{spec_path}: unknown key '{prefix}.{key}' (known: {', '.join(sorted(allowed))})"
            )
        expected = allowed[key]
        if not isinstance(value, expected):
            kinds = expected if isinstance(expected, tuple) else (expected,)
            kind = " or ".join(_KIND_NAMES[item] for item in kinds)
            raise ConfigError(
                f"{spec_path}: '{prefix}.{key}' must be {kind}, not {type(value).__name__}"
            )


def _parse_tool_table(
    spec_path: Path, table: Mapping[str, Any], layers: tuple[Layer, ...]
) -> StackConfig:
    _check_keys(spec_path, table, _TOOL_KEYS, "tool.srcstacks")
    runtime_table = table.get("runtime", {})
    _check_keys(spec_path, runtime_table, _RUNTIME_KEYS, "tool.srcstacks.runtime")
    sbom = _parse_sbom_table(spec_path, table.get("sbom", {}))
    spec_dir = spec_path.parent

    def path_of(key: str, default: str) -> Path:
        return (spec_dir / str(table.get(key, default))).absolute()

    variant = table.get("variant", DEFAULT_VARIANT)
    _check_variant(spec_path, variant)
    work_dir = path_of("work_dir", "_srcstacks")
    wheel_dir = path_of("wheel_dir", f"_srcstacks/{variant}/wheels")
    output_dir = path_of("output_dir", f"_srcstacks/{variant}/artifacts")
    source = runtime_table.get("source", "download")
    if source not in _RUNTIME_SOURCES:
        raise ConfigError(
            f"{spec_path}: 'tool.srcstacks.runtime.source' must be one of"
            f" {', '.join(_RUNTIME_SOURCES)}, not {source!r}"
        )
    runtime_path = runtime_table.get("path")
    runtime = RuntimeSource(
        kind=source,
        mirror_url=runtime_table.get("mirror_url"),
        path=(spec_dir / runtime_path).absolute() if runtime_path else None,
        interpreter=runtime_table.get("interpreter"),
    )
    return StackConfig(
        spec_path=spec_path,
        layers=layers,
        settings_dir=path_of("settings_dir", "build-settings"),
        patches_dir=path_of("patches_dir", "patches"),
        variant=variant,
        spec_variant=variant,
        work_dir=work_dir,
        wheel_dir=wheel_dir,
        output_dir=output_dir,
        runtime=runtime,
        sbom=sbom,
    )


def _parse_sbom_table(spec_path: Path, table: Mapping[str, Any]) -> SbomSettings:
    prefix = "tool.srcstacks.sbom"
    _check_keys(spec_path, table, _SBOM_KEYS, prefix)
    authors = table.get("authors", [])
    return SbomSettings(
        supplier=_parse_party(spec_path, table.get("supplier"), f"{prefix}.supplier"),
        manufacturer=_parse_party(spec_path, table.get("manufacturer"), f"{prefix}.manufacturer"),
        authors=tuple(
            _require_party(spec_path, author, f"{prefix}.authors[{index}]")
            for index, author in enumerate(authors)
        ),
    )


def _parse_party(spec_path: Path, value: Any, key: str) -> SbomParty | None:
    """A supplier, manufacturer or author: a name, or a table with name, url and email."""
    return None if value is None else _require_party(spec_path, value, key)


def _require_party(spec_path: Path, value: Any, key: str) -> SbomParty:
    if isinstance(value, str):
        table: Mapping[str, Any] = {"name": value}
    elif isinstance(value, Mapping):
        table = value
        _check_keys(spec_path, table, _PARTY_KEYS, key)
    else:
        raise ConfigError(
            f"{spec_path}: '{key}' must be a string or a table, not {type(value).__name__}"
        )
    name = table.get("name", "")
    if not name.strip():
        raise ConfigError(f"{spec_path}: '{key}' needs a non-empty 'name'")
    return SbomParty(name=name, url=table.get("url"), email=table.get("email"))


def _check_variant(origin: Path | str, variant: str) -> None:
    if not _VARIANT_PATTERN.match(variant):
        raise ConfigError(f"{origin}: variant {variant!r} must be letters, digits, '.', '_' or '-'")


def _apply_overrides(config: StackConfig, overrides: Overrides) -> StackConfig:
    changes: dict[str, Any] = {}
    for key in ("settings_dir", "patches_dir", "work_dir", "wheel_dir", "output_dir"):
        value = getattr(overrides, key)
        if value is not None:
            changes[key] = value.absolute()
    if overrides.variant is not None and overrides.variant != config.variant:
        _check_variant("--variant", overrides.variant)
        changes["variant"] = overrides.variant
        # Default wheel and output dirs follow the variant so variants never mix.
        default_base = config.work_dir / config.variant
        for key in ("wheel_dir", "output_dir"):
            current: Path = getattr(config, key)
            if key not in changes and current.is_relative_to(default_base):
                changes[key] = (
                    config.work_dir / overrides.variant / current.relative_to(default_base)
                )
    runtime = config.runtime
    if overrides.runtime_source is not None:
        runtime = replace(runtime, kind=overrides.runtime_source)
    if overrides.runtime_path is not None:
        runtime = replace(runtime, path=overrides.runtime_path.absolute())
    if overrides.runtime_mirror_url is not None:
        runtime = replace(runtime, mirror_url=overrides.runtime_mirror_url)
    if overrides.runtime_interpreter is not None:
        runtime = replace(runtime, interpreter=overrides.runtime_interpreter)
    changes["runtime"] = runtime
    return replace(config, **changes)


def _check_runtime_source(config: StackConfig) -> None:
    runtime = config.runtime
    where = f"{config.spec_path}: [tool.srcstacks.runtime]"
    if runtime.kind == "mirror" and not runtime.mirror_url:
        raise ConfigError(f"{where}: source 'mirror' needs 'mirror_url' (or --runtime-mirror-url)")
    if runtime.kind == "local" and runtime.path is None:
        raise ConfigError(f"{where}: source 'local' needs 'path' (or --runtime-path)")
