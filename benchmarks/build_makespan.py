"""How long a stack's wheel builds take on N workers: a recorded run, rescheduled.

Reads a built stack's records (the folder holding its spec, or any folder srcstacks
built in): Fromager's dependency graph per Python (``_srcstacks/<variant>/fromager/
work-dir*/graph.json``) and each wheel's build time (``run-summary.json``, Fromager's own
measure). For 1, 2, 4, ... 64 workers it replays srcstacks' own rules for
``--jobs N`` and ``--executor`` (a Dask cluster whose workers are machines like this one):

1. the resolve step (``fromager bootstrap --sdist-only``) builds the build tools, one
   after another: every package in some package's build environment
   (:func:`srcstacks.build.plan.build_environment`);
2. :func:`srcstacks.build.plan.plan_builds` plans the rest, and the scheduler
   (``srcstacks/build/executors/scheduler.py``) starts each as soon as every planned
   build it needs is done, the first in the plan's order when several are ready, on
   the first free worker;
3. the Python versions' groups one after another, as ``srcstacks build`` runs them.

It prints the makespan of those rules against two bounds, the critical path (the
longest chain of builds each needing the one before) and the total work divided by the
workers, and the same schedule with the build tools in the scheduler too (what that
change to step 1 would buy). The resolve and recording bootstraps' own time (resolving,
downloading, no compiles) is left out; a build's time is what it took in the recorded
run (with ``--jobs 2`` on 2 cores, two compiles shared the cores).

    python -m uv run python benchmarks/build_makespan.py STACK_FOLDER [--variant cpu]
        [--progress-log LOG ...] [--events X.Y:EVENTS_FILE ...]

A wheel the recorded run reused has no time in its run summary. ``--progress-log`` takes
the times from what ``srcstacks build`` printed when it built them (its ``built NAME
VERSION in 2m05s`` lines, under each ``--- the wheels of the layers on Python X.Y ---``),
later logs winning; ``--events`` from a Fromager events file a run kept
(``logs/runs/<time>/*.events.jsonl``, its ``built`` events), for the Python named.
"""

from __future__ import annotations

import argparse
import heapq
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from srcstacks.build.executors.base import Key, PackageBuild
from srcstacks.build.plan import Graph, build_environment, plan_builds, read_graph

WORKERS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class Group:
    """One Python version's graph and the time each of its builds took."""

    python: str  # X.Y, or "" for a stack on one Python
    graph: Graph
    seconds: Mapping[Key, float]


_SECTION = re.compile(r"^--- the wheels of the layers on Python (\d+\.\d+) ---$")
_BUILT = re.compile(r"^  built (\S+) (\S+) in (?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?\b")


def progress_times(logs: list[Path]) -> dict[tuple[str, Key], float]:
    """``(python, (project, version))`` -> seconds, from ``srcstacks build``'s output."""
    found: dict[tuple[str, Key], float] = {}
    for log in logs:
        python = ""
        for line in log.read_text(encoding="utf-8").splitlines():
            if section := _SECTION.match(line):
                python = section[1]
            elif built := _BUILT.match(line):
                hours, minutes, seconds = (int(part or 0) for part in built.groups()[2:])
                found[(python, (built[1], built[2]))] = hours * 3600 + minutes * 60 + seconds
    return found


def event_times(given: list[str]) -> dict[tuple[str, Key], float]:
    """``(python, (project, version))`` -> seconds from ``X.Y:FILE`` events files."""
    found: dict[tuple[str, Key], float] = {}
    for item in given:
        python, _, name = item.partition(":")
        for line in Path(name).read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event.get("event") == "built":
                found[(python, (event["project"], event["version"]))] = float(event["seconds"])
    return found


def read_groups(variant_dir: Path, logs: list[Path], events: list[str]) -> list[Group]:
    summary = json.loads((variant_dir / "run-summary.json").read_text(encoding="utf-8"))
    printed = {**event_times(events), **progress_times(logs)}
    groups = []
    for graph_file in sorted((variant_dir / "fromager").glob("work-dir*/graph.json")):
        python = graph_file.parent.name.removeprefix("work-dir").removeprefix("-")
        seconds = {key: value for (where, key), value in printed.items() if where in ("", python)}
        seconds.update(
            ((entry["project"], entry["version"]), float(entry["seconds"]))
            for entry in summary["entries"]
            if entry.get("seconds") is not None
            and entry.get("python", "") in ("", python)
            and entry.get("action") == "built"  # a reused wheel's seconds are the reuse's
        )
        groups.append(Group(python, read_graph(graph_file), seconds))
    if not groups:
        raise SystemExit(f"{variant_dir}: no Fromager graph.json; build the stack first")
    return groups


def build_tools(graph: Graph) -> set[Key]:
    """What the resolve step builds: every package in some package's build environment."""
    return {graph[need].key for key in graph for need in build_environment(graph, key)}


def makespan(builds: Sequence[PackageBuild], seconds: Mapping[Key, float], workers: int) -> float:
    """The scheduler's rules (ready in the plan's order, first free worker), simulated."""
    order = {build.key: position for position, build in enumerate(builds)}
    waiting_on = {build.key: set(build.needs) for build in builds}
    ready = sorted((build.key for build in builds if not build.needs), key=order.__getitem__)
    running: list[tuple[float, int, Key]] = []
    clock = 0.0
    while ready or running:
        while ready and len(running) < workers:
            key = ready.pop(0)
            heapq.heappush(running, (clock + seconds.get(key, 0.0), order[key], key))
        clock, _, done = heapq.heappop(running)
        for key, needs in waiting_on.items():
            if done in needs:
                needs.discard(done)
                if not needs:
                    ready.append(key)
        ready.sort(key=order.__getitem__)
    return clock


def critical_path(
    builds: Sequence[PackageBuild], seconds: Mapping[Key, float]
) -> tuple[float, list[Key]]:
    """The longest chain of builds each needing the one before, and its length."""
    finish: dict[Key, tuple[float, list[Key]]] = {}
    for build in builds:  # plan order is a build order: needs come first
        before = max((finish[need] for need in build.needs), default=(0.0, []))
        finish[build.key] = (before[0] + seconds.get(build.key, 0.0), [*before[1], build.key])
    return max(finish.values(), default=(0.0, []))


def plan(group: Group, *, tools_first: bool) -> tuple[float, list[PackageBuild]]:
    """Seconds of the serial resolve step, and the builds left to the scheduler."""
    tools = build_tools(group.graph) if tools_first else set()
    serial = sum(group.seconds.get(key, 0.0) for key in tools)
    return serial, plan_builds(group.graph, lambda project, version: (project, version) in tools)


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def show(key: Key, seconds: Mapping[Key, float]) -> str:
    return f"{key[0]} {key[1]} ({duration(seconds.get(key, 0.0))})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", type=Path, help="the folder srcstacks built the stack in")
    parser.add_argument("--variant", default="cpu")
    parser.add_argument("--progress-log", type=Path, nargs="*", default=[])
    parser.add_argument("--events", nargs="*", default=[])
    options = parser.parse_args()
    variant_dir = options.stack / "_srcstacks" / options.variant
    groups = read_groups(variant_dir, options.progress_log, options.events)
    for group in groups:
        work = sum(group.seconds.get(node.key, 0.0) for node in group.graph.values())
        length, chain = critical_path(plan(group, tools_first=False)[1], group.seconds)
        print(f"Python {group.python or '(one)'}: {len(group.graph)} packages, "
              f"{duration(work)} of builds; critical path {duration(length)}:")  # fmt: skip
        print("  " + " -> ".join(show(key, group.seconds) for key in chain))
    print("| workers | srcstacks' rules | build tools in the scheduler too | work / workers "
          "| critical path |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|")
    for workers in WORKERS:
        row = [0.0, 0.0, 0.0, 0.0]
        for group in groups:
            serial, builds = plan(group, tools_first=True)
            row[0] += serial + makespan(builds, group.seconds, workers)
            _, everything = plan(group, tools_first=False)
            row[1] += makespan(everything, group.seconds, workers)
            row[2] += sum(group.seconds.get(build.key, 0.0) for build in everything) / workers
            row[3] += critical_path(everything, group.seconds)[0]
        print(f"| {workers} | " + " | ".join(duration(value) for value in row) + " |")


if __name__ == "__main__":
    main()
