"""``--jobs N`` and ``--executor``: the options, the plan, the scheduler and the progress shown.

The plan is tested on graphs shaped like Fromager 0.77's ``graph.json``; the scheduler
with a fake start function (no Fromager), so its rules are exact: dependency order, at
most N running, a failure stops new builds while running ones finish, Ctrl-C stops the
running builds. ``tests/e2e/test_parallel_builds.py`` runs the real thing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from srcstacks.build.executors import check_executor, make_executor
from srcstacks.build.executors.base import BuildEvent, BuildOutcome, PackageBuild, Status
from srcstacks.build.executors.local import LocalExecutor
from srcstacks.build.executors.scheduler import run_scheduled
from srcstacks.build.jobs import (
    DEFAULT_JOBS,
    building_with,
    checked_jobs,
    cpus,
    current_executor,
    current_jobs,
)
from srcstacks.build.parallel import resolve_log_name
from srcstacks.build.plan import (
    build_environment,
    plan_builds,
    read_graph,
    wheel_checker,
)
from srcstacks.build.run_summary import Action, RunFacts, outcome_facts, summarize
from srcstacks.errors import ConfigError, StateError
from srcstacks.pipeline import stage_inputs
from srcstacks.spec.config import load_config
from srcstacks.stages import WHEELS
from tests.conftest import copy_demo_stack, run_cli

# --- the options ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, -8])
def test_zero_or_negative_jobs_are_refused_naming_the_option(value: int) -> None:
    with pytest.raises(ConfigError, match=rf"--jobs must be at least 1 .*, not {value}$"):
        checked_jobs(value)


def test_jobs_default_to_one_package_at_a_time() -> None:
    assert checked_jobs(None) == DEFAULT_JOBS == 1
    assert cpus() == len(os.sched_getaffinity(0))
    assert checked_jobs(3) == 3
    with building_with(1, "dask://127.0.0.1:8786"):
        assert current_jobs() == 1
        assert current_executor() == "dask://127.0.0.1:8786"
    assert current_jobs() == DEFAULT_JOBS  # only for the length of the command
    assert current_executor() is None


@pytest.mark.parametrize("command", ["build", "wheels"])
def test_jobs_zero_on_the_command_line_is_one_line_and_builds_nothing(
    tmp_path: Path, command: str
) -> None:
    spec = copy_demo_stack(tmp_path)
    result = run_cli(command, spec, "--jobs", "0", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "srcstacks: error: --jobs must be at least 1 (the number of packages built at once), not 0"
    )
    assert not (tmp_path / "_srcstacks").exists()
    # The negative control: a stage that builds no wheel has no --jobs at all.
    assert run_cli("lock", spec, "--jobs", "2", check=False).returncode == 2


@pytest.mark.parametrize(
    "value", ["tcp://h:1", "dask://", "dask://host", "dask://host:0", "dask://host:99999", "x"]
)
def test_a_malformed_executor_is_one_line_naming_the_option(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^--executor .*: expected dask://HOST:PORT"):
        check_executor(value)


def test_a_malformed_executor_on_the_command_line_builds_nothing(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    result = run_cli("wheels", spec, "--executor", "dask:/nowhere", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "srcstacks: error: --executor 'dask:/nowhere': expected dask://HOST:PORT"
        " (a Dask scheduler's address)"
    )
    assert not (tmp_path / "_srcstacks").exists()


def test_dask_without_an_index_stops_before_anything_is_resolved(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    result = run_cli("wheels", spec, "--no-index", "--executor", "dask://127.0.0.1:1", check=False)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error == (
        "srcstacks: error: --executor dask://127.0.0.1:1: builds on a Dask cluster need a"
        " private index, the only thing the workers share with this machine; set --index URL"
        " or [tool.srcstacks.index]"
    )
    assert not list((tmp_path / "_srcstacks").rglob("fromager-*.log"))
    assert not list((tmp_path / "_srcstacks").rglob("*.tar.gz"))  # no sdist downloaded


def test_the_executor_is_local_unless_a_dask_address_is_given() -> None:
    local = make_executor(None, 3)
    assert isinstance(local, LocalExecutor) and local.jobs == 3 and local.name == "local"
    assert check_executor("dask://10.0.0.5:8786") == "dask://10.0.0.5:8786"


def test_jobs_and_executor_leave_the_wheels_stage_fingerprint_alone(tmp_path: Path) -> None:
    config = load_config(copy_demo_stack(tmp_path))
    with building_with(1):
        serial = stage_inputs(WHEELS, config, {})
    with building_with(2, "dask://127.0.0.1:8786"):
        parallel = stage_inputs(WHEELS, config, {})
    assert serial == parallel
    # The negative control: what the wheels depend on does change it.
    (config.settings_dir / "idna.yaml").write_text("env:\n  X: '1'\n")
    assert stage_inputs(WHEELS, config, {}) != serial


def test_the_cli_starts_without_importing_rich_dask_or_the_executors() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import srcstacks.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'dask')"
        " or m.startswith('srcstacks.build.executors.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the plan -------------------------------------------------------------------------


def node(name: str, version: str, *edges: tuple[str, str], pre_built: bool = False) -> Any:
    return {
        "download_url": f"https://files.example/{name}-{version}.tar.gz",
        "pre_built": pre_built,
        "version": version,
        "canonicalized_name": name,
        "constraint": None,
        "edges": [{"key": key, "req_type": kind, "req": key} for key, kind in edges],
    }


def graph_file(tmp_path: Path, nodes: dict[str, Any]) -> Path:
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(nodes))
    return path


# The demo's shape, plus an app whose build backend installs a library that needs a
# compiled package: app's build environment holds hatchling, its install requirement
# pathspec, and pathspec's install requirement cext.
DEMO_GRAPH = {
    "": node("", "0", ("markupsafe==3.0.4", "toplevel"), ("jinja2==3.1.6", "toplevel"),
             ("app==1.0", "toplevel")),
    "markupsafe==3.0.4": node("markupsafe", "3.0.4", ("setuptools==80.0", "build-system")),
    "jinja2==3.1.6": node("jinja2", "3.1.6", ("flit-core==3.12.0", "build-system"),
                          ("markupsafe==3.0.4", "install")),
    "flit-core==3.12.0": node("flit-core", "3.12.0"),
    "setuptools==80.0": node("setuptools", "80.0"),
    "app==1.0": node("app", "1.0", ("hatchling==1.0", "build-backend"),
                     ("jinja2==3.1.6", "install")),
    "hatchling==1.0": node("hatchling", "1.0", ("flit-core==3.12.0", "build-system"),
                           ("pathspec==0.1", "install")),
    "pathspec==0.1": node("pathspec", "0.1", ("flit-core==3.12.0", "build-system"),
                          ("cext==2.0", "install")),
    "cext==2.0": node("cext", "2.0", ("setuptools==80.0", "build-system")),
}  # fmt: skip


def test_the_graph_reader_takes_fromagers_graph_json(tmp_path: Path) -> None:
    graph = read_graph(graph_file(tmp_path, DEMO_GRAPH))
    assert "" not in graph and len(graph) == len(DEMO_GRAPH) - 1
    jinja2 = graph["jinja2==3.1.6"]
    assert jinja2.key == ("jinja2", "3.1.6")
    assert jinja2.download_url == "https://files.example/jinja2-3.1.6.tar.gz"
    assert [(e.key, e.req_type) for e in jinja2.edges] == [
        ("flit-core==3.12.0", "build-system"),
        ("markupsafe==3.0.4", "install"),
    ]


@pytest.mark.parametrize(
    "text",
    ["[1, 2]", "{", '{"": {"edges": [{"key": "gone==1", "req_type": "x", "req": "y"}]}}',
     '{"a==1": {"edges": []}}'],
)  # fmt: skip
def test_a_broken_graph_is_one_line_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "graph.json"
    path.write_text(text)
    with pytest.raises(StateError, match=rf"^{path}: "):
        read_graph(path)


def test_the_build_environment_is_build_requirements_and_their_install_closure(
    tmp_path: Path,
) -> None:
    graph = read_graph(graph_file(tmp_path, DEMO_GRAPH))
    assert build_environment(graph, "app==1.0") == ["hatchling==1.0", "pathspec==0.1", "cext==2.0"]
    # Install requirements of the package itself are not part of its build environment.
    assert build_environment(graph, "jinja2==3.1.6") == ["flit-core==3.12.0"]


def test_the_plan_leaves_out_wheels_already_there_and_waits_only_for_planned_builds(
    tmp_path: Path,
) -> None:
    graph = read_graph(graph_file(tmp_path, DEMO_GRAPH))
    tools = {"setuptools", "flit-core", "hatchling"}  # built by the resolve step
    builds = plan_builds(graph, lambda project, version: project in tools)
    by_name = {build.project: build for build in builds}
    assert sorted(by_name) == ["app", "cext", "jinja2", "markupsafe", "pathspec"]
    assert len(builds) == len(by_name)  # nothing planned twice
    assert by_name["app"].needs == (("cext", "2.0"), ("pathspec", "0.1"))
    assert by_name["jinja2"].needs == ()  # markupsafe is only an install requirement
    assert by_name["markupsafe"].needs == ()
    assert by_name["app"].source_url == "https://files.example/app-1.0.tar.gz"
    order = [build.key for build in builds]
    assert (
        order.index(("cext", "2.0"))
        < order.index(("pathspec", "0.1"))
        < order.index(("app", "1.0"))
    )
    # The negative control: with every wheel there, nothing is planned.
    assert plan_builds(graph, lambda project, version: True) == []


def test_pre_built_packages_are_never_planned(tmp_path: Path) -> None:
    nodes = dict(DEMO_GRAPH)
    nodes["cext==2.0"] = node("cext", "2.0", pre_built=True)
    graph = read_graph(graph_file(tmp_path, nodes))
    planned = {build.project for build in plan_builds(graph, lambda p, v: False)}
    assert "cext" not in planned and "pathspec" in planned


def test_builds_that_need_each_other_are_refused_naming_them(tmp_path: Path) -> None:
    nodes = {
        "": node("", "0", ("a==1", "toplevel")),
        "a==1": node("a", "1", ("b==1", "build-system")),
        "b==1": node("b", "1", ("a==1", "build-backend")),
    }
    graph = read_graph(graph_file(tmp_path, nodes))
    with pytest.raises(StateError, match=r"need each other to build: (a==1 -> b==1|b==1 -> a==1)"):
        plan_builds(graph, lambda p, v: False)


def test_a_build_whose_need_is_not_planned_never_starts() -> None:
    builds = builds_of({"a": [], "b": ["elsewhere"]})
    outcomes = {o.build.project: o for o in run_scheduled(builds, 2, FakeBuilds(), print)}
    assert outcomes["a"].status == Status.BUILT
    assert outcomes["b"].status == Status.NOT_STARTED
    assert outcomes["b"].message == "a build it needs was never built"


def test_a_wheel_counts_when_its_build_tag_is_the_changelogs(tmp_path: Path) -> None:
    for name in ("markupsafe-3.0.4-0-cp311-cp311-linux_x86_64.whl",
                 "idna-3.11-2-py3-none-any.whl", "not-a-wheel.whl"):  # fmt: skip
        (tmp_path / name).write_bytes(b"")
    has = wheel_checker(tmp_path, {"idna": {"3.11": 2}, "markupsafe": {"3.0.4": 1}})
    assert has("idna", "3.11")  # two changelog entries: build tag 2
    assert not has("markupsafe", "3.0.4")  # one entry added since: rebuild
    assert wheel_checker(tmp_path, {})("markupsafe", "3.0.4")  # no changelog: any wheel
    assert not has("jinja2", "3.1.6")


# --- the scheduler --------------------------------------------------------------------


class FakeBuilds:
    """A start function that records what runs at once; fails the names in ``failing``."""

    def __init__(self, seconds: float = 0.05, failing: frozenset[str] = frozenset()) -> None:
        self.seconds = seconds
        self.failing = failing
        self.running: set[str] = set()
        self.most = 0
        self.order: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, build: PackageBuild) -> BuildOutcome:
        began = time.time()
        with self.lock:
            self.running.add(build.project)
            self.most = max(self.most, len(self.running))
            self.order.append(build.project)
        time.sleep(self.seconds * (4 if build.project == "slow" else 1))
        with self.lock:
            self.running.discard(build.project)
        status = Status.FAILED if build.project in self.failing else Status.BUILT
        message = "compile failed" if status == Status.FAILED else ""
        return BuildOutcome(
            build, status, time.time() - began, "local", message=message,
            started=began, ended=time.time(),
        )  # fmt: skip


def builds_of(spec: dict[str, list[str]]) -> list[PackageBuild]:
    return [
        PackageBuild(name, "1", f"https://files.example/{name}-1.tar.gz",
                     tuple((need, "1") for need in needs))
        for name, needs in spec.items()
    ]  # fmt: skip


def test_at_most_n_builds_run_at_once_and_each_waits_for_its_needs() -> None:
    builds = builds_of({"a": [], "b": [], "c": [], "d": ["a", "b"], "e": ["d"], "f": []})
    fake = FakeBuilds()
    events: list[BuildEvent] = []
    outcomes = run_scheduled(builds, 2, fake, events.append)
    assert fake.most == 2
    assert [o.status for o in outcomes] == [Status.BUILT] * 6
    assert [o.build for o in outcomes] == builds
    ended = {o.build.project: o.ended for o in outcomes}
    began = {o.build.project: o.started for o in outcomes}
    assert began["d"] >= max(ended["a"], ended["b"]) and began["e"] >= ended["d"]
    started = [e.build.project for e in events if e.kind == "started"]
    assert started.index("d") > started.index("b")
    assert sum(e.kind == "finished" for e in events) == 6
    # The negative control: one job runs them strictly one at a time.
    serial = FakeBuilds()
    run_scheduled(builds, 1, serial, lambda event: None)
    assert serial.most == 1


def test_a_build_starts_as_soon_as_its_needs_are_built_not_in_rounds() -> None:
    # "slow" takes four times as long: "after-a" must not wait for it.
    builds = builds_of({"slow": [], "a": [], "after-a": ["a"]})
    outcomes = {o.build.project: o for o in run_scheduled(builds, 2, FakeBuilds(), print)}
    assert outcomes["after-a"].started < outcomes["slow"].ended


def test_a_failure_stops_new_builds_lets_running_ones_finish_and_keeps_the_built() -> None:
    builds = builds_of({"bad": [], "slow": [], "later": [], "needs-bad": ["bad"]})
    fake = FakeBuilds(failing=frozenset({"bad"}))
    outcomes = {o.build.project: o for o in run_scheduled(builds, 2, fake, lambda e: None)}
    assert outcomes["bad"].status == Status.FAILED and outcomes["bad"].message == "compile failed"
    assert outcomes["slow"].status == Status.BUILT  # was running: it finished
    assert outcomes["later"].status == Status.NOT_STARTED  # would have started after
    assert outcomes["needs-bad"].status == Status.NOT_STARTED
    assert "later" not in fake.order


def test_an_exception_in_a_build_is_a_failed_outcome_not_a_lost_one() -> None:
    def explode(build: PackageBuild) -> BuildOutcome:
        raise OSError(28, "No space left on device")

    [outcome] = run_scheduled(builds_of({"a": []}), 2, explode, lambda e: None)
    assert outcome.status == Status.FAILED
    assert "No space left on device" in outcome.message


def test_ctrl_c_stops_the_running_builds_and_is_raised_again() -> None:
    stopped = threading.Event()

    def start(build: PackageBuild) -> BuildOutcome:
        stopped.wait(10)  # a long compile, until it is stopped
        return BuildOutcome(build, Status.FAILED, 0.0, "local", message="stopped")

    def interrupt(event: BuildEvent) -> None:
        if event.kind == "started" and event.build.project == "b":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_scheduled(builds_of({"a": [], "b": []}), 2, start, interrupt, stop=stopped.set)
    assert stopped.is_set()


# --- the run summary of a parallel run -----------------------------------------------


def test_executor_builds_are_built_with_seconds_and_worker_though_the_last_bootstrap_reused(
) -> None:  # fmt: skip
    a, b, c = builds_of({"a": [], "b": [], "c": []})
    outcomes = [
        BuildOutcome(a, Status.BUILT, 61.4, "local", wheel="a-1-py3-none-any.whl"),
        BuildOutcome(b, Status.BUILT, 2.0, "worker-2"),
        BuildOutcome(c, Status.NOT_STARTED, 0.0, "local"),
    ]
    resolve = RunFacts(
        finished={("setuptools", "80"): Action.BUILT}, seconds={("setuptools", "80"): 9}
    )
    final = RunFacts(
        finished={k: Action.REUSED for k in [("a", "1"), ("b", "1"), ("setuptools", "80")]}
    )
    summary = summarize("cpu", None, [resolve, outcome_facts(outcomes), final])
    entries = {e.project: e.to_json() for e in summary.entries}
    assert entries["a"] == {"project": "a", "version": "1", "action": "built", "seconds": 61,
                            "worker": "local"}  # fmt: skip
    assert entries["b"]["worker"] == "worker-2" and entries["b"]["action"] == "built"
    assert entries["setuptools"]["action"] == "built" and entries["setuptools"]["worker"] == "local"
    # Never started (an earlier build failed): unfinished, not unknown.
    assert entries["c"]["action"] == "unfinished" and entries["c"]["worker"] is None
    # The negative control: without the outcomes, the final bootstrap's "reused" stands.
    alone = {e.project: e.action for e in summarize("cpu", None, [resolve, final]).entries}
    assert alone["a"] == Action.REUSED


# --- the loopback index the local builds install from ----------------------------------


def test_the_loopback_index_serves_the_stacks_wheels_and_sdists_and_nothing_else(
    tmp_path: Path,
) -> None:
    import urllib.error
    import urllib.request

    from srcstacks.build.executors.loopback_index import serving
    from srcstacks.layout.fromager import FromagerDirs

    dirs = FromagerDirs(tmp_path / "fromager")
    dirs.built_wheels.mkdir(parents=True)
    dirs.downloaded_sdists.mkdir(parents=True)
    (dirs.built_wheels / "flit_core-3.12.0-0-py3-none-any.whl").write_bytes(b"wheel")
    (dirs.downloaded_sdists / "markupsafe-3.0.4.tar.gz").write_bytes(b"sdist")
    (tmp_path / "secret.whl").write_bytes(b"not served")
    with serving(dirs) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/simple/")
        page = urllib.request.urlopen(url + "flit-core/").read().decode()
        assert 'href="/files/flit_core-3.12.0-0-py3-none-any.whl"' in page
        page = urllib.request.urlopen(url + "MarkupSafe/").read().decode()
        assert 'href="/files/markupsafe-3.0.4.tar.gz"' in page
        base = url.removesuffix("simple/")
        assert urllib.request.urlopen(base + "files/markupsafe-3.0.4.tar.gz").read() == b"sdist"
        head = urllib.request.Request(
            base + "files/flit_core-3.12.0-0-py3-none-any.whl", method="HEAD"
        )
        assert urllib.request.urlopen(head).headers["Content-Length"] == "5"
        # A wheel moved in while serving is served at once.
        (dirs.built_wheels / "idna-3.11-0-py3-none-any.whl").write_bytes(b"new")
        assert "idna-3.11" in urllib.request.urlopen(url + "idna/").read().decode()
        for missing in ("files/..%2Fsecret.whl", "files/secret.whl", "simple/six/", "etc"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + missing)
            assert refused.value.code == 404


def test_every_parallel_build_gets_its_own_build_paths_mapped_to_the_serial_ones(
    tmp_path: Path,
) -> None:
    from srcstacks.layout.fromager import FromagerDirs
    from srcstacks.tools.fromager import build_env

    env = build_env(FromagerDirs(tmp_path / "parallel-builds" / "brotli-1.2.1"), {"PATH": "/bin"})
    assert env["PATH"] == "/bin" and env["SOURCE_DATE_EPOCH"]
    assert env["CARGO_HOME"] == f"{tmp_path}/parallel-builds/brotli-1.2.1/cargo-home"
    mapped = f"-ffile-prefix-map={tmp_path}/parallel-builds/brotli-1.2.1/work-dir=/build"
    assert mapped in env["CPPFLAGS"]  # the same /build as the serial bootstrap's work dir


def test_each_pythons_resolve_log_is_kept_under_its_own_name() -> None:
    assert resolve_log_name(Path("logs/fromager-bootstrap.log")) == "fromager-resolve.log"
    names = {resolve_log_name(Path(f"logs/fromager-bootstrap-{x}.log")) for x in ("3.11", "3.12")}
    assert names == {"fromager-resolve-3.11.log", "fromager-resolve-3.12.log"}
