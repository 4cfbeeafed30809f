"""What the Fromager settings folder says: per-project settings files and their variants."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name

from srcstacks.errors import ConfigError
from srcstacks.fsutil import sha256_file
from srcstacks.spec.config import DEFAULT_VARIANT


@dataclass(frozen=True)
class ProjectSettings:
    """One ``<project>.yaml`` in the settings folder."""

    project: str
    path: Path
    sha256: str
    env: dict[str, str] = field(default_factory=dict)
    variant_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # Fromager's ``resolver_dist.sdist_server_url``: the index this project's sdist
    # comes from, when it is not PyPI.
    sdist_index: str | None = None
    # Fromager's ``changelog``: how many entries each version has (its wheels' build tag).
    changelog: dict[str, int] = field(default_factory=dict)


# Every project settings file of a run, keyed by canonical project name. Read once per
# run (by the wheels stage) and handed to whatever needs it, so one run sees one state.
Settings = dict[str, ProjectSettings]


def read_settings(settings_dir: Path) -> Settings:
    """Every project settings file, keyed by canonical project name.

    Invalid YAML is a :class:`ConfigError` naming the file and line.
    """
    found: dict[str, ProjectSettings] = {}
    if not settings_dir.is_dir():
        return found
    for path in sorted(settings_dir.glob("*.yaml")):
        data = _load_yaml(path)
        variants = data.get("variants") or {}
        found[canonicalize_name(path.stem)] = ProjectSettings(
            project=canonicalize_name(path.stem),
            path=path,
            sha256=sha256_file(path),
            env=_str_map(data.get("env")),
            variant_env={
                str(name): _str_map((info or {}).get("env")) for name, info in variants.items()
            },
            sdist_index=_sdist_index(data),
            changelog=_changelog_lengths(data),
        )
    return found


def defined_variants(settings: dict[str, ProjectSettings]) -> dict[str, list[str]]:
    """Each variant the settings define, with the projects that define it."""
    variants: dict[str, list[str]] = {}
    for project, item in sorted(settings.items()):
        for name in item.variant_env:
            variants.setdefault(name, []).append(project)
    return dict(sorted(variants.items()))


def undefined_variant(variant: str, settings: Settings, settings_dir: Path) -> str | None:
    """A warning when ``variant`` is neither Fromager's default nor defined by any settings
    file: Fromager then builds it with the base settings only, as if unvariant."""
    defined = defined_variants(settings)
    if variant == DEFAULT_VARIANT or variant in defined:
        return None
    known = ", ".join(dict.fromkeys([DEFAULT_VARIANT, *defined]))
    return (
        f"variant {variant!r} is defined by no settings file in {settings_dir}"
        f" (defined: {known}); it builds with the base settings only"
    )


# A settings file is a few keys: these bound what a hostile one can make the reader do
# (a "billion laughs" file of nested aliases grows to gigabytes once expanded).
_MOST_BYTES = 1_000_000
_MOST_ALIASES = 100


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
        if len(raw) > _MOST_BYTES:
            raise ConfigError(
                f"{path}: {len(raw)} bytes; build settings are at most {_MOST_BYTES} bytes"
            )
        text = raw.decode("utf-8")
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text))
        if aliases > _MOST_ALIASES:
            raise ConfigError(
                f"{path}: {aliases} YAML aliases; build settings may use at most"
                f" {_MOST_ALIASES} (nested aliases can expand to gigabytes)"
            )
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: unreadable: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML in build settings: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: build settings must be a mapping of Fromager keys")
    return data


def _sdist_index(data: dict[str, Any]) -> str | None:
    resolver = data.get("resolver_dist")
    url = resolver.get("sdist_server_url") if isinstance(resolver, dict) else None
    return str(url) if url else None


def _changelog_lengths(data: dict[str, Any]) -> dict[str, int]:
    changelog = data.get("changelog")
    if not isinstance(changelog, dict):
        return {}
    return {
        str(version): len(entries)
        for version, entries in changelog.items()
        if isinstance(entries, list)
    }


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items()}


_REFERENCE = re.compile(r"\$\{(?P<braced>\w+)\}|\$(?P<bare>\w+)")


def effective_env(base: dict[str, str], variant: dict[str, str]) -> dict[str, str]:
    """The env a variant build gets: the base env, overridden by the variant's.

    A variant value may refer to the base value (``"${CFLAGS} -O3"``), as Fromager
    allows; references to names the settings do not set are left as written.
    """
    env = dict(base)
    for key, value in variant.items():
        env[key] = _REFERENCE.sub(
            lambda match: base.get(match["braced"] or match["bare"], match.group(0)), value
        )
    return dict(sorted(env.items()))


# The settings file of ``source = "build"`` runtimes. It keeps to Fromager's schema
# (Fromager reads every file of the folder and refuses unknown keys): base options in
# ``config_settings.configure``, a variant's extra options in its annotation below.
CPYTHON_SETTINGS = "cpython"
CONFIGURE_ANNOTATION = "srcstacks.configure"


@dataclass(frozen=True)
class CPythonSettings:
    """``build-settings/cpython.yaml`` for one variant: configure options and env."""

    path: Path | None  # None when there is no such file
    configure_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def read_cpython_settings(settings_dir: Path, variant: str) -> CPythonSettings:
    """The configure options and environment ``cpython.yaml`` sets for ``variant``."""
    path = settings_dir / f"{CPYTHON_SETTINGS}.yaml"
    if not path.is_file():
        return CPythonSettings(None)
    data = _load_yaml(path)
    variants = _mapping(path, data, "variants")
    variant_data = _mapping(path, variants, variant, "variants.")
    base = _mapping(path, data, "config_settings").get("configure", [])
    if isinstance(base, str):  # Fromager allows one string: options as a shell would split
        base = _split(path, "config_settings.configure", base)
    if not isinstance(base, list) or not all(isinstance(arg, str) for arg in base):
        raise ConfigError(f"{path}: 'config_settings.configure' must be a list of strings")
    annotations = _mapping(path, variant_data, "annotations", f"variants.{variant}.")
    extra = _split(
        path,
        f"variants.{variant}.annotations.{CONFIGURE_ANNOTATION}",
        str(annotations.get(CONFIGURE_ANNOTATION, "")),
    )
    return CPythonSettings(
        path=path,
        configure_args=(*base, *extra),
        env=effective_env(_str_map(data.get("env")), _str_map(variant_data.get("env"))),
    )


def _mapping(path: Path, data: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    """``data[key]`` as a mapping (empty when unset), or a ConfigError naming the key."""
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: '{where}{key}' must be a mapping")
    return value


def _split(path: Path, key: str, text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: '{key}': {exc}") from None
