"""The uv settings venvstacks passes on to every layer's lock, and the upload-time cutoff.

Reads the spec's ``[tool.uv]`` table, else ``venvstacks.uv.toml`` beside the spec (where
venvstacks reads it, only when the spec has no ``[tool.uv]``); writes nothing.

uv's ``exclude-newer`` and ``exclude-newer-package`` (venvstacks' sample project sets
``exclude-newer = "2025-08-27 00:00:00+00:00"``, "so CI can reproduce the same lock
contents") hold the sources of a stack at a point in time. srcstacks applies them where
versions are chosen from upstream sources: Fromager's resolution of sdists
(:mod:`srcstacks.tools.upload_filter`) and selective mode's look at upstream wheels. It
keeps them out of the lock (:mod:`srcstacks.tools.venvstacks_main`): every wheel
srcstacks locks was uploaded to its own wheel dir or index when it was built, so uv
would filter out the very wheels built for the stack.

The values uv accepts that name a fixed time are accepted: an RFC 3339 timestamp
(``2025-08-27T00:00:00Z``, or with a space and an offset as the sample project writes
it), and a date, which, as in uv, includes the whole of that day. uv reads a date in the
local time zone of the machine; srcstacks reads it in UTC, so every build host picks
the same sources (they agree on a machine set to UTC). A relative duration (``7
days``, ``P7D``) would pick different sources each day and is refused; ``false`` in
``exclude-newer-package`` lifts the cutoff for one project, as in uv.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from srcstacks.errors import ConfigError
from srcstacks.spec.rules import UV_CONFIG_NAME

EXCLUDE_NEWER = "exclude-newer"
EXCLUDE_NEWER_PACKAGE = "exclude-newer-package"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class UvSettings:
    """The uv settings venvstacks passes on, the file they are in and their keys' prefix
    (``tool.uv.`` in the spec, nothing in ``venvstacks.uv.toml``)."""

    values: Mapping[str, Any]
    origin: str
    prefix: str

    def key(self, name: str) -> str:
        """``name`` as a message names it: ``'tool.uv.exclude-newer'``."""
        return f"'{self.prefix}{name}'"


def uv_settings(spec_path: Path) -> UvSettings:
    """The spec's ``[tool.uv]``, else ``venvstacks.uv.toml`` beside it."""
    tool = _read(spec_path).get("tool")
    uv = tool.get("uv") if isinstance(tool, Mapping) else None
    if isinstance(uv, Mapping):
        return UvSettings(uv, str(spec_path), "tool.uv.")
    uv_config = spec_path.parent / UV_CONFIG_NAME  # venvstacks reads it only without [tool.uv]
    return UvSettings(_read(uv_config) if uv_config.is_file() else {}, str(uv_config), "")


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable: {exc}") from None


@dataclass(frozen=True)
class UploadCutoff:
    """The latest upload time of a source file Fromager may choose, per project.

    ``default`` applies to every project ``per_project`` does not name; ``None`` there
    (``false`` in the spec) means no cutoff for that project.
    """

    default: datetime.datetime | None = None
    per_project: tuple[tuple[str, datetime.datetime | None], ...] = field(default=())

    def __bool__(self) -> bool:
        return self.default is not None or any(when for _, when in self.per_project)

    def for_project(self, name: str) -> datetime.datetime | None:
        """The cutoff of ``name`` (any spelling of it), or None."""
        return dict(self.per_project).get(canonicalize_name(name), self.default)

    def describe(self) -> str:
        """One line for the run's output: ``2025-08-27T00:00:00Z (idna: none)``."""
        parts = [utc_text(self.default) if self.default else "none"]
        if self.per_project:
            each = (
                f"{name}: {utc_text(when) if when else 'none'}" for name, when in self.per_project
            )
            parts.append(f"({', '.join(each)})")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """Plain data (a fingerprint's, and what a Fromager process reads back with
        :meth:`from_json`)."""
        per_project = {name: utc_text(when) if when else None for name, when in self.per_project}
        return {"default": utc_text(self.default) if self.default else None,
                "per_project": per_project}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UploadCutoff:
        default = data.get("default")
        return cls(
            _utc(default) if default else None,
            tuple(
                (name, _utc(when) if when else None)
                for name, when in sorted(data.get("per_project", {}).items())
            ),
        )


def upload_cutoff(spec_path: Path) -> UploadCutoff:
    """The spec's ``exclude-newer`` and ``exclude-newer-package``, checked.

    Raises :class:`ConfigError` naming the file and key of a value that is not a date
    or a timestamp (a duration, a number, a malformed date).
    """
    uv = uv_settings(spec_path)
    default = None
    if EXCLUDE_NEWER in uv.values:
        default = _cutoff(uv, EXCLUDE_NEWER, uv.values[EXCLUDE_NEWER], allow_false=False)
    per_project: dict[str, datetime.datetime | None] = {}
    table = uv.values.get(EXCLUDE_NEWER_PACKAGE, {})
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"{uv.origin}: {uv.key(EXCLUDE_NEWER_PACKAGE)} must be a table of project"
            " names and dates"
        )
    for name, value in table.items():
        key = f"{EXCLUDE_NEWER_PACKAGE}.{name}"
        per_project[canonicalize_name(name)] = _cutoff(uv, key, value, allow_false=True)
    return UploadCutoff(default, tuple(sorted(per_project.items())))


def uv_cutoff_args(cutoff: UploadCutoff) -> list[str]:
    """``cutoff`` as options of ``uv pip compile``."""
    args = ["--exclude-newer", utc_text(cutoff.default)] if cutoff.default else []
    for name, when in cutoff.per_project:
        args += ["--exclude-newer-package", f"{name}={utc_text(when) if when else 'false'}"]
    return args


def _cutoff(uv: UvSettings, key: str, value: Any, *, allow_false: bool) -> datetime.datetime | None:
    if value is False and allow_false:
        return None
    where = f"{uv.origin}: {uv.key(key)}"
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a date or an RFC 3339 timestamp, not {value!r}")
    text = value.strip()
    if _DATE.match(text):
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError as exc:
            raise ConfigError(f"{where} {value!r} is not a date: {exc}") from None
        # The whole day counts, as in uv: the cutoff is the next midnight (UTC).
        start = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
        return start + datetime.timedelta(days=1)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{where} {value!r} is not a date or an RFC 3339 timestamp; srcstacks builds"
            " against a fixed time (a duration such as '7 days' would pick other sources"
            " every day): write e.g. '2025-08-27' or '2025-08-27T00:00:00Z'"
        ) from None
    if moment.tzinfo is None:
        raise ConfigError(
            f"{where} {value!r} has no time zone: end it with 'Z' or an offset ('+00:00')"
        )
    return moment.astimezone(datetime.UTC)


def utc_text(moment: datetime.datetime) -> str:
    """``2025-08-27T00:00:00Z``: how srcstacks writes a cutoff."""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
