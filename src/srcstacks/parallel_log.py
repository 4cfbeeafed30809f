"""What Fromager's ``build-parallel`` phase says about each package, line by line.

Reads the console output of ``fromager bootstrap-parallel`` (Fromager 0.77,
``fromager/commands/build.py``): after the line ``*** starting build-parallel with
<graph.json> ***`` every line about one package is prefixed with its node key,
``<canonical name>-<version>: `` (``flit-core-3.12.0: ``), and builds of several packages
interleave. Writes nothing: the live progress display and ``run-summary.json`` both read
the events this module turns those lines into.

What a package's lines mean (``_build`` in Fromager's build command):
``starting processing`` opens it; ``downloading wheel from <url>`` then ``using existing
wheel from <file>`` is a wheel fetched from the cache server; ``using existing wheel``
alone is a wheel already in the work dir; ``building <variant> wheel for`` is a compile
starting, and ``adding <wheel> to local wheel server`` ends a build (or a pre-built
download after ``downloading prebuilt wheel``); ``ERROR <key>: Failed to build`` is a
failure. Times come from each line's ``HH:MM:SS`` stamp, so a duration is whole seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from packaging.utils import canonicalize_name

Key = tuple[str, str]  # (canonical project name, version)
Outcome = Literal["built", "reused", "fetched", "prebuilt"]

PARALLEL_START = re.compile(r"\*\*\* starting build-parallel with ")
_STAMP = r"(?P<time>\d\d:\d\d:\d\d) "
# Canonical names hold only [a-z0-9-] and versions never hold '-': the last '-' splits.
_NODE = r"(?P<name>[a-z0-9][a-z0-9-]*?)-(?P<version>[^\s:-]+): "
_INFO = re.compile(_STAMP + "INFO " + _NODE + r"(?P<message>.*)$")
_FAILED = re.compile(_STAMP + "ERROR " + _NODE + r"Failed to build")
_TOTAL = re.compile(_STAMP + r"INFO found (?P<count>\d+) packages to build")
# The serial part (the names as the requirements wrote them): a wheel it built or fetched
# is one build-parallel then finds in the work dir.
_SERIAL = re.compile(_STAMP + r"INFO (?P<package>[A-Za-z0-9._-]+): (?P<message>.*)$")
_LOCAL_SERVER = re.compile(_STAMP + r"INFO started wheel server at (?P<url>\S+)")


@dataclass(frozen=True)
class Started:
    key: Key
    at: int  # seconds since midnight, from the log line


@dataclass(frozen=True)
class Compiling:
    """Fromager starts building the wheel from source (not a reuse)."""

    key: Key
    at: int


@dataclass(frozen=True)
class Finished:
    key: Key
    outcome: Outcome
    at: int
    seconds: int  # since its Started line
    earlier: bool = False  # the serial part built or fetched it; build-parallel found it


@dataclass(frozen=True)
class Failed:
    key: Key
    at: int
    seconds: int


@dataclass(frozen=True)
class Total:
    """How many packages the dependency graph holds (each is built, reused or fetched)."""

    count: int
    at: int


Event = Started | Compiling | Finished | Failed | Total


@dataclass
class ParallelReader:
    """Turns ``bootstrap-parallel`` output, one line at a time, into :data:`Event` s.

    Lines before the build-parallel phase (the serial sdist-only bootstrap) give none.
    """

    in_parallel: bool = False
    _serial: dict[str, Outcome] = field(default_factory=dict)  # canonical name: outcome
    _local_server: str | None = None
    _cache_url: dict[str, str] = field(default_factory=dict)
    _started: dict[Key, int] = field(default_factory=dict)
    _fetching: set[Key] = field(default_factory=set)
    _prebuilt: set[Key] = field(default_factory=set)
    _done: set[Key] = field(default_factory=set)

    def feed(self, line: str) -> Event | None:
        """The event ``line`` stands for, if any."""
        if not self.in_parallel:
            self.in_parallel = bool(PARALLEL_START.search(line))
            self._serial_line(line)
            return None
        if match := _TOTAL.search(line):
            return Total(int(match["count"]), _clock(match["time"]))
        if match := _FAILED.search(line):
            key, at = (match["name"], match["version"]), _clock(match["time"])
            self._done.add(key)
            return Failed(key, at, self._since(key, at))
        match = _INFO.search(line)
        if match is None:
            return None
        key = (match["name"], match["version"])
        return self._on_message(key, _clock(match["time"]), match["message"])

    def _serial_line(self, line: str) -> None:
        if match := _LOCAL_SERVER.search(line):
            self._local_server = match["url"]
            return
        match = _SERIAL.search(line)
        if match is None:
            return
        name, message = canonicalize_name(match["package"]), match["message"]
        if message.startswith("built wheel for version "):
            self._serial[name] = "built"
        elif message.startswith("checking if wheel was already uploaded to "):
            self._cache_url[name] = message.rsplit(" ", 1)[-1]
        elif (
            message.startswith("found built wheel on cache server")
            # Fromager's own wheel server holds this work dir's wheels: not a fetch.
            and self._cache_url.get(name) != self._local_server
        ):
            self._serial[name] = "fetched"

    def _on_message(self, key: Key, at: int, message: str) -> Event | None:
        if message.startswith("starting processing"):
            self._started[key] = at
            return Started(key, at)
        if message.startswith("downloading wheel from "):
            self._fetching.add(key)
        elif message.startswith("downloading prebuilt wheel"):
            self._prebuilt.add(key)
        elif message.startswith("building ") and " wheel for " in message:
            return Compiling(key, at)
        elif message.startswith("using existing wheel from "):
            if earlier := self._serial.get(key[0]):
                return self._finish(key, at, earlier, earlier=True)
            return self._finish(key, at, "fetched" if key in self._fetching else "reused")
        elif message.startswith("adding ") and message.endswith(" to local wheel server"):
            return self._finish(key, at, "prebuilt" if key in self._prebuilt else "built")
        return None

    def _finish(
        self, key: Key, at: int, outcome: Outcome, *, earlier: bool = False
    ) -> Finished | None:
        if key in self._done:
            return None  # a second wheel moved into the mirror for the same package
        self._done.add(key)
        return Finished(key, outcome, at, self._since(key, at), earlier)

    def _since(self, key: Key, at: int) -> int:
        started = self._started.get(key, at)
        return (at - started) % 86400  # a build running past midnight


_NODE_KEY = re.compile(_NODE.removesuffix(": ") + "$")


def node_project(node_key: str) -> str:
    """The project of a build-parallel node key (``flit-core-3.12.0``: ``flit-core``)."""
    match = _NODE_KEY.match(node_key)
    return match["name"] if match else node_key


def _clock(stamp: str) -> int:
    hours, minutes, seconds = (int(part) for part in stamp.split(":"))
    return hours * 3600 + minutes * 60 + seconds


@dataclass
class ParallelFacts:
    """Everything the build-parallel phase of one log says, per package."""

    reached: bool = False  # the log got as far as the build-parallel phase
    total: int | None = None
    started: set[Key] = field(default_factory=set)
    finished: dict[Key, Outcome] = field(default_factory=dict)
    seconds: dict[Key, int] = field(default_factory=dict)
    failed: set[Key] = field(default_factory=set)


def read_parallel(text: str) -> ParallelFacts:
    """The facts of a whole ``bootstrap-parallel`` log (empty when it never got there)."""
    reader = ParallelReader()
    facts = ParallelFacts()
    for line in text.splitlines():
        event = reader.feed(line)
        if isinstance(event, Total):
            facts.total = event.count
        elif isinstance(event, Started):
            facts.started.add(event.key)
        elif isinstance(event, Finished):
            facts.finished[event.key] = event.outcome
            facts.seconds[event.key] = event.seconds
        elif isinstance(event, Failed):
            facts.failed.add(event.key)
    facts.reached = reader.in_parallel
    return facts
