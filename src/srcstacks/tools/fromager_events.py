"""Inside Fromager: write what it does with each package as it does it (its events file).

:mod:`fromager_main` calls in here from Fromager's own extension points, the same in
Fromager 0.77 and 0.101: ``DependencyGraph.add_dependency`` (a requirement resolved),
``overrides.find_and_invoke`` (every per-package step: download, prepare, build, ...)
and ``hooks.run_post_bootstrap_hooks`` (a package is done). When
``SRCSTACKS_FROMAGER_EVENTS`` names a file, each becomes one JSON line there:

- ``{"event": "resolved", "project", "version", "kind"}``: a requirement entered
  Fromager's dependency graph for the first time (``DependencyGraph.add_dependency``),
  with the kind of its first edge (``toplevel``, ``build-system``, ``install``, ...);
- ``{"event": "started", "project", "version"}``: the first step of a package version;
- ``{"event": "step", "project", "version", "step"}``: a step begins (``download_source``,
  ``prepare_source``, ``build_sdist``, ``build_wheel``, ...): what Fromager does now;
- ``{"event": "built", "project", "version", "seconds"}``: Fromager built its wheel
  from source in this process (``seconds``: that ``build_wheel`` step);
- ``{"event": "failed", "project", "version", "step", "error"}``: a step raised;
- ``{"event": "done", "project", "version", "wheel", "where"}``: bootstrapped, its wheel
  (``null`` for a source-only one) found ``where``: ``built`` here, ``downloaded``
  (new in the wheels repo's downloads without a build: from the cache server, which
  Fromager saves there), ``prebuilt``, or ``existing`` (there before this process);
- ``{"event": "seconds", "project", "version", "seconds"}`` at exit: Fromager's own
  measure of every step of that version (``ctx.time_store``).

Project names are canonical. Nothing is written when the variable is unset, so a
Fromager started by hand with srcstacks installed behaves as Fromager. The reader is
:mod:`srcstacks.build.run_summary`, and :class:`srcstacks.tools.fromager_files.EventFollower`
for the progress of a running bootstrap.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

EVENTS_VARIABLE = "SRCSTACKS_FROMAGER_EVENTS"

_lock = threading.Lock()
_resolved: set[tuple[str, str]] = set()
_started: set[tuple[str, str]] = set()
_built: set[tuple[str, str]] = set()
_existing: dict[Path, frozenset[str]] = {}  # wheels repo downloads -> names found first
_contexts: dict[int, Any] = {}


def _write(event: dict[str, Any]) -> None:
    path = os.environ.get(EVENTS_VARIABLE)
    if not path:
        return
    line = json.dumps(event, sort_keys=True) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as events:
        events.write(line)


def _version_of(kwargs: dict[str, Any]) -> str | None:
    version = kwargs.get("version") or kwargs.get("dist_version")
    return None if version is None else str(version)


def _remember(ctx: Any) -> None:
    """Keep ``ctx`` for its timings, and list its wheels before this process adds any."""
    if ctx is None or id(ctx) in _contexts:
        return
    _contexts[id(ctx)] = ctx
    downloads = Path(ctx.wheels_downloads)
    if downloads not in _existing:
        names = frozenset(path.name for path in downloads.glob("*.whl"))
        _existing[downloads] = names


def resolved(req: Any, req_type: Any, version: Any) -> None:
    """Fromager added ``req`` (``version``, a ``req_type`` dependency) to its graph."""
    key = (str(canonicalize_name(req.name)), str(version))
    with _lock:
        if key in _resolved:
            return
        _resolved.add(key)
    _write({"event": "resolved", "project": key[0], "version": key[1], "kind": str(req_type)})


def invoke(distname: str, method: str, call: Any, kwargs: dict[str, Any]) -> Any:
    """Run one of Fromager's per-package steps (``call()``), writing what happened."""
    _remember(kwargs.get("ctx"))
    version = _version_of(kwargs)
    key = (str(canonicalize_name(distname)), version or "")
    if version is not None and key not in _started:
        _started.add(key)
        _write({"event": "started", "project": key[0], "version": version})
    if version is not None:
        _write({"event": "step", "project": key[0], "version": version, "step": method})
    began = time.monotonic()
    try:
        result = call()
    except BaseException as exc:
        if version is not None:
            _write({"event": "failed", "project": key[0], "version": version, "step": method,
                    "error": " ".join(str(exc).split())[:2000]})  # fmt: skip
        raise
    if method == "build_wheel" and version is not None:
        _built.add(key)
        seconds = round(time.monotonic() - began, 3)
        _write({"event": "built", "project": key[0], "version": version, "seconds": seconds})
    return result


def bootstrapped(ctx: Any, dist_name: str, dist_version: str, wheel: Path | None) -> None:
    """A package version is done: say where its wheel came from."""
    _remember(ctx)
    key = (str(canonicalize_name(dist_name)), str(dist_version))
    where = None
    if wheel is not None:
        wheel = Path(wheel)
        downloads = Path(ctx.wheels_downloads)
        if key in _built:
            where = "built"
        elif wheel.parent == Path(ctx.wheels_prebuilt):
            where = "prebuilt"
        elif wheel.parent == downloads and wheel.name not in _existing.get(downloads, ()):
            where = "downloaded"  # the cache server's wheels are saved there
        else:
            where = "existing"
    _write({"event": "done", "project": key[0], "version": key[1],
            "wheel": None if wheel is None else wheel.name, "where": where})  # fmt: skip


@atexit.register
def _write_timings() -> None:
    for ctx in _contexts.values():
        for name_version, steps in sorted(getattr(ctx, "time_store", {}).items()):
            name, _, version = str(name_version).partition("==")
            _write({"event": "seconds", "project": str(canonicalize_name(name)),
                    "version": version, "seconds": round(sum(steps.values()), 3)})  # fmt: skip
