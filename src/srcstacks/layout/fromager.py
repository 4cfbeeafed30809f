"""The folders Fromager works in under a stack's work dir (``<variant>/fromager/``).

Derived from the root :meth:`srcstacks.layout.Layout.fromager` gives; the wrapper
(:mod:`srcstacks.tools.fromager`) and the stages read and write them. A file name read
from elsewhere goes through :func:`~srcstacks.layout.ownership.inside`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from srcstacks.layout.ownership import inside


@dataclass(frozen=True)
class FromagerDirs:
    """The folders Fromager works in, all kept so a rerun reuses what was built.

    A stack with wheels for several Pythons has one Fromager per ``X.Y`` (``python``),
    each with a wheels repo and work dir of its own (Fromager takes any wheel of the
    right name and version from its repo, whatever its ABI) and the sdists repo shared.
    """

    root: Path
    python: str = ""  # X.Y, for a stack with wheels for several Pythons

    def _own(self, name: str) -> Path:
        return self.root / (f"{name}-{self.python}" if self.python else name)

    @property
    def sdists_repo(self) -> Path:
        return self.root / "sdists-repo"

    @property
    def wheels_repo(self) -> Path:
        return self._own("wheels-repo")

    @property
    def work_dir(self) -> Path:
        return self._own("work-dir")

    @property
    def build_order(self) -> Path:
        """Fromager's bottom-up list of everything it built for the last run."""
        return self.work_dir / "build-order.json"

    @property
    def graph(self) -> Path:
        return self.work_dir / "graph.json"

    @property
    def built_wheels(self) -> Path:
        return self.wheels_repo / "downloads"

    def built_wheel(self, filename: str) -> Path:
        """A wheel Fromager built, by file name (checked to stay in its folder)."""
        return inside(self.built_wheels, filename, "wheel file name")

    @property
    def prebuilt_wheels(self) -> Path:
        """Wheels Fromager takes as they are (``pre_built`` settings)."""
        return self.wheels_repo / "prebuilt"

    @property
    def downloaded_sdists(self) -> Path:
        return self.sdists_repo / "downloads"

    def downloaded_sdist_named(self, filename: str) -> Path:
        """A downloaded sdist, by file name (checked to stay in its folder)."""
        return inside(self.downloaded_sdists, filename, "sdist file name")

    @property
    def cargo_home(self) -> Path:
        """cargo's home for every build (crates downloaded once), shared by all Pythons."""
        return self.root / "cargo-home"

    def downloaded_sdist(self, url: str) -> Path:
        """Where Fromager saves the source it downloads from ``url`` (its last segment)."""
        return self.downloaded_sdist_named(unquote(PurePosixPath(urlsplit(url).path).name))
