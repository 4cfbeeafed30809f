"""Inside Fromager: leave out the source files uploaded after the spec's cutoff.

srcstacks passes the spec's ``exclude-newer`` settings (:mod:`srcstacks.spec.uv_settings`)
and the indexes they apply to in :data:`CUTOFF_VARIABLE`;
:mod:`srcstacks.tools.fromager_main` then wraps ``fromager.resolver.get_project_from_pypi``,
the function through which both pinned Fromager releases (0.77 and 0.101) list a
project's files on a PyPI-style index, each with the upload time the index reports
(PEP 700). A file uploaded after the project's cutoff is left out, so Fromager resolves
the version the spec's date holds, whichever Fromager runs and whatever was released
since. (Fromager 0.101's own ``--min-release-age`` counts days back from now: the same
spec would pick other versions tomorrow.)

Only the named source indexes are filtered (PyPI and the sdist servers the build
settings name): Fromager also resolves build tools on its own wheel server and on
srcstacks' index, whose files were uploaded when they were built. A file on a filtered
index with no upload time is left out too: its age cannot be checked. Each project
left with fewer files says so in Fromager's log, in a line
:func:`srcstacks.tools.fromager_errors.explain_failure` quotes when nothing is left.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from srcstacks.spec.uv_settings import UploadCutoff, utc_text

CUTOFF_VARIABLE = "SRCSTACKS_UPLOAD_CUTOFF"
_LOG = logging.getLogger("fromager.resolver")  # Fromager's own, so its log lines read alike
# The line each filtered project leaves in the log (read back by fromager_errors).
LEFT_OUT = re.compile(
    r"srcstacks: exclude-newer (?P<cutoff>\S+) left out (?P<count>\d+) of the (?P<total>\d+)"
    r" file\(s\) of (?P<project>\S+) on (?P<index>\S+)"
)


@dataclass(frozen=True)
class CutoffRequest:
    """The cutoff, and the indexes (without a trailing ``/``) it applies to."""

    cutoff: UploadCutoff
    indexes: tuple[str, ...]

    def to_env(self) -> str:
        data = {"cutoff": self.cutoff.to_json(), "indexes": sorted(self.indexes)}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_env(cls, text: str) -> CutoffRequest:
        data = json.loads(text)
        return cls(UploadCutoff.from_json(data["cutoff"]), tuple(data["indexes"]))

    def applies_to(self, index_url: str) -> bool:
        return index_url.rstrip("/") in self.indexes


def before_cutoff(
    get_project: Callable[..., Iterable[Any]], request: CutoffRequest
) -> Callable[..., Iterator[Any]]:
    """``get_project`` (Fromager's ``get_project_from_pypi``), its candidates filtered."""

    def get_project_before_cutoff(
        project: str, extras: Any, sdist_server_url: str, *args: Any, **kwargs: Any
    ) -> Iterator[Any]:
        found = get_project(project, extras, sdist_server_url, *args, **kwargs)
        cutoff = request.cutoff.for_project(project)
        if cutoff is None or not request.applies_to(sdist_server_url):
            yield from found
            return
        total = left_out = 0
        for candidate in found:
            total += 1
            uploaded = getattr(candidate, "upload_time", None)
            if uploaded is None or uploaded > cutoff:
                left_out += 1
                continue
            yield candidate
        if left_out:
            _LOG.info(
                "srcstacks: exclude-newer %s left out %d of the %d file(s) of %s on %s"
                " (uploaded later, or with no upload time)",
                utc_text(cutoff),
                left_out,
                total,
                project,
                sdist_server_url,
            )

    return get_project_before_cutoff
