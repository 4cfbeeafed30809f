"""End-to-end: package builds fanned out to a real Dask cluster on loopback.

One cluster for the whole file (a ``dask scheduler`` and two ``dask worker`` processes,
each with its own local directory and the index credentials in its own environment)
and the session's devpi-server; each test gets a fresh private index on it. The stack
is tests/stacks/dask_pair (idna with a build setting, tomli with a patch, flit_core to
build both), built locally once with ``srcstacks wheels`` (6 s): that gives the
coordinator its sdists and build tools, and the local wheels the workers' must equal.
Faults: a worker killed mid-build, a worker whose platform differs from the
coordinator's, an unreachable scheduler, a stack without an index.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from srcstacks.build.cache_check import companion_record, mismatch
from srcstacks.build.executors import dask_executor
from srcstacks.build.executors.base import (
    BuildContext,
    BuildEvent,
    BuildOutcome,
    PackageBuild,
    Status,
)
from srcstacks.build.executors.dask_executor import DaskExecutor
from srcstacks.build.executors.dask_payload import Interpreter
from srcstacks.errors import ConfigError, ExecutorError
from srcstacks.fsutil import sha256_bytes
from srcstacks.index.managed import ManagedIndex
from srcstacks.index.private import (
    PROVENANCE_PROJECT,
    IndexLocation,
    download,
    project_files,
    provenance_filename,
)
from srcstacks.layout import Layout
from srcstacks.spec.config import IndexSettings, StackConfig, load_config
from srcstacks.spec.settings import read_settings
from srcstacks.tools.fromager_files import read_build_order
from tests.conftest import REPO_ROOT, run_cli
from tests.dask_cluster import Cluster
from tests.devpi_fixtures import free_port
from tests.e2e.test_private_index import admin, credentials_env, fresh_index

pytestmark = pytest.mark.e2e

STACK = REPO_ROOT / "tests" / "stacks" / "dask_pair"
PLANNED = ("idna", "tomli")  # built by the workers; flit_core is the build tool


@pytest.fixture(scope="module")
def cluster(
    devpi_index: ManagedIndex, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("dask-cluster")
    # The workers' own environment holds the credentials; tasks never carry them.
    worker_env = {**os.environ, **credentials_env(devpi_index)}
    cluster = Cluster(root, worker_env)
    try:
        cluster.start_scheduler()
        cluster.start_worker("worker-a")
        cluster.start_worker("worker-b")
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.stop()


# --- the coordinator ------------------------------------------------------------------


@dataclass(frozen=True)
class Coordinator:
    """The stack built locally once: its config, and the wheels the local build made."""

    config: StackConfig
    local_wheels: dict[str, bytes]
    builds: dict[str, PackageBuild]


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Coordinator:
    stack = tmp_path_factory.mktemp("dask-stack") / "stack"
    shutil.copytree(STACK, stack)
    spec = stack / "venvstacks.toml"
    run_cli("wheels", spec)
    config = load_config(spec)
    dirs = Layout.of(config).fromager
    wheels = {path.name: path.read_bytes() for path in dirs.built_wheels.glob("*.whl")}
    entries = read_build_order(dirs) or []
    builds = {
        entry.project: PackageBuild(entry.project, entry.version, entry.source_url)
        for entry in entries
        if entry.project in PLANNED
    }
    assert sorted(builds) == sorted(PLANNED)
    return Coordinator(config, wheels, builds)


@pytest.fixture(scope="module")
def coordinator_credentials(devpi_index: ManagedIndex) -> Iterator[None]:
    """The coordinator uploads the sdists and build tools: it needs credentials too."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in credentials_env(devpi_index).items():
            patch.setenv(name, value)
        yield


def context_for(coordinator: Coordinator, index_url: str | None, log_dir: Path) -> BuildContext:
    config = replace(coordinator.config, index=IndexSettings(url=index_url) if index_url else None)
    layout = Layout.of(config)
    return BuildContext(
        config=config,
        layout=layout,
        dirs=layout.fromager,
        settings=read_settings(config.settings_dir),
        run_log_dir=log_dir,
        index=IndexLocation.parse(index_url) if index_url else None,
    )


@dataclass
class Recorder:
    events: list[BuildEvent] = field(default_factory=list)

    def __call__(self, event: BuildEvent) -> None:
        self.events.append(event)

    def started(self) -> list[tuple[str, str]]:
        return [(e.build.project, e.worker) for e in self.events if e.kind == "started"]


def index_record(location: IndexLocation, wheel: str) -> dict[str, object]:
    return companion_record(project_files(location, PROVENANCE_PROJECT), wheel)


def wheels_on_index(location: IndexLocation, project: str) -> dict[str, bytes]:
    files = project_files(location, project)
    return {name: download(file) for name, file in files.items() if name.endswith(".whl")}


# --- the builds -----------------------------------------------------------------------


def test_two_workers_build_the_plan_and_publish_wheels_with_provenance(
    cluster: Cluster,
    coordinator: Coordinator,
    coordinator_credentials: None,
    devpi_index: ManagedIndex,
    tmp_path: Path,
) -> None:
    url = fresh_index(devpi_index, "dask-pair")
    context = context_for(coordinator, url, tmp_path / "logs")
    recorder = Recorder()
    builds = [coordinator.builds[name] for name in PLANNED]

    outcomes = DaskExecutor(cluster.address).run(builds, context, recorder)

    assert [o.status for o in outcomes] == [Status.BUILT, Status.BUILT], outcomes
    workers = {o.build.project: o.worker for o in outcomes}
    assert set(workers.values()) == {"worker-a", "worker-b"}, workers
    assert sorted(recorder.started()) == sorted(workers.items())
    location = IndexLocation.parse(url)
    for outcome in outcomes:
        assert outcome.wheel is not None
        on_index = wheels_on_index(location, outcome.build.project)
        # Byte-identical to the wheel the local build made from the same inputs.
        assert on_index == {outcome.wheel: coordinator.local_wheels[outcome.wheel]}
        record = index_record(location, outcome.wheel)
        assert record["worker"] == outcome.worker
        # The worker's build environment, on the record: the build tool's wheel from the
        # index, named by its sha256 (the same bytes as the local build's).
        (used,) = record["wheel"]["build_environment"]["tools"]  # type: ignore[index]
        assert used["sha256"] == sha256_bytes(coordinator.local_wheels[used["filename"]])
        sha256 = sha256_bytes(on_index[outcome.wheel])
        # What the coordinator checks before it uses a fetched wheel (cache_check)...
        assert mismatch(context.config, context.settings, outcome.wheel, sha256, record) == ""
        # ...and a negative control: another wheel's bytes do not pass.
        assert mismatch(context.config, context.settings, outcome.wheel, "0" * 64, record)
        assert outcome.log is not None and "fromager" in outcome.log.read_text()
    tomli = index_record(location, workers_wheel(outcomes, "tomli"))
    assert [p["path"] for p in tomli["wheel"]["patches"]] == [  # type: ignore[index]
        "patches/tomli/0001-mark-patched-build.patch"
    ]
    # The sdists and the build tool went up first, the tool with its provenance.
    for build in builds:
        assert any(name.endswith(".tar.gz") for name in project_files(location, build.project))
    (tool,) = project_files(location, "flit-core")
    assert tool in coordinator.local_wheels
    assert provenance_filename(tool) in project_files(location, PROVENANCE_PROJECT)
    for path in (context.run_log_dir).glob("*.log"):
        assert devpi_index.password not in path.read_text()


def workers_wheel(outcomes: list[BuildOutcome], project: str) -> str:
    wheel = next(o.wheel for o in outcomes if o.build.project == project)
    assert wheel is not None
    return wheel


def test_task_folders_are_removed_after_the_builds(cluster: Cluster) -> None:
    # The builds of the test above ran in folders of their own below each worker's
    # local directory; each was removed when its build ended.
    for name in ("worker-a", "worker-b"):
        marked = list(cluster.local_directory(name).glob("dask-scratch-space/*/srcstacks-builds"))
        assert marked, f"{name} never built anything"
        for folder in marked:
            assert [path.name for path in folder.iterdir()] == [".srcstacks-owned"]


# --- faults ---------------------------------------------------------------------------


def test_a_worker_on_another_platform_is_refused_and_publishes_nothing(
    cluster: Cluster,
    coordinator: Coordinator,
    coordinator_credentials: None,
    devpi_index: ManagedIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = fresh_index(devpi_index, "dask-other-platform")
    context = context_for(coordinator, url, tmp_path / "logs")
    here = Interpreter.here()
    # The coordinator builds for another platform than the workers run: every worker
    # differs from it, as a worker on another machine type would from this coordinator.
    other = replace(here, platform="macosx-14.0-arm64", tags=("cp311-cp311-macosx_14_0_arm64",))
    monkeypatch.setattr(Interpreter, "here", classmethod(lambda cls: other))

    (outcome,) = DaskExecutor(cluster.address).run(
        [coordinator.builds["idna"]], context, Recorder()
    )

    assert outcome.status == Status.FAILED
    assert "\n" not in outcome.message
    assert outcome.worker in outcome.message
    assert "refused to build idna 3.11" in outcome.message
    assert "macosx-14.0-arm64" in outcome.message and "another ABI" in outcome.message
    location = IndexLocation.parse(url)
    assert wheels_on_index(location, "idna") == {}
    companions = project_files(location, PROVENANCE_PROJECT)
    assert companions and not [name for name in companions if "-idna-" in name]


def test_an_unreachable_scheduler_is_one_line_and_uploads_nothing(
    coordinator: Coordinator,
    coordinator_credentials: None,
    devpi_index: ManagedIndex,
    tmp_path: Path,
) -> None:
    url = fresh_index(devpi_index, "dask-unreachable")
    context = context_for(coordinator, url, tmp_path / "logs")
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(ExecutorError) as caught:
        DaskExecutor(f"dask://{address}", connect_timeout=2).run(
            list(coordinator.builds.values()), context, Recorder()
        )
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"tcp://{address}: cannot reach the Dask scheduler")
    assert "--executor" in message
    location = IndexLocation.parse(url)
    assert all(project_files(location, name) == {} for name in (*PLANNED, "flit-core"))


def test_a_scheduler_without_workers_is_one_line_and_uploads_nothing(
    coordinator: Coordinator,
    coordinator_credentials: None,
    devpi_index: ManagedIndex,
    tmp_path: Path,
) -> None:
    url = fresh_index(devpi_index, "dask-no-workers")
    context = context_for(coordinator, url, tmp_path / "logs")
    empty = Cluster(tmp_path, dict(os.environ))
    empty.start_scheduler()
    try:
        with pytest.raises(ExecutorError) as caught:
            DaskExecutor(empty.address).run(list(coordinator.builds.values()), context, Recorder())
    finally:
        empty.stop()
    assert str(caught.value).startswith(f"{empty.address}: the Dask scheduler has no workers")
    assert "\n" not in str(caught.value)
    location = IndexLocation.parse(url)
    assert all(project_files(location, name) == {} for name in (*PLANNED, "flit-core"))


def test_dask_without_a_private_index_is_refused(coordinator: Coordinator, tmp_path: Path) -> None:
    context = context_for(coordinator, None, tmp_path / "logs")
    with pytest.raises(ConfigError) as caught:
        DaskExecutor("dask://127.0.0.1:1").run(
            list(coordinator.builds.values()), context, Recorder()
        )
    assert "\n" not in str(caught.value)
    assert "need a private index" in str(caught.value)
    assert "--index" in str(caught.value)


def building_folders(cluster: Cluster, project: str, version: str) -> list[Path]:
    """The task folders of a build on any worker where Fromager has unpacked its source."""
    return [
        folder
        for name in ("worker-a", "worker-b")
        for folder in cluster.local_directory(name).glob(
            f"dask-scratch-space/*/srcstacks-builds/{project}-{version}-*"
        )
        if (folder / "fromager" / "work-dir" / f"{project}-{version}").is_dir()
    ]


def test_ctrl_c_stops_the_running_builds_and_publishes_nothing(
    cluster: Cluster,
    coordinator: Coordinator,
    coordinator_credentials: None,
    devpi_index: ManagedIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = fresh_index(devpi_index, "dask-ctrl-c")
    context = context_for(coordinator, url, tmp_path / "logs")
    seen: list[Path] = []

    def interrupted_mid_build(futures: list[Any], timeout: float) -> set[Any]:
        # The user presses Ctrl-C as soon as tomli is being built on a worker.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not seen:
            seen.extend(building_folders(cluster, "tomli", "2.2.1"))
            time.sleep(0.01)
        if seen:
            raise KeyboardInterrupt
        return {future for future in futures if future.done()}

    monkeypatch.setattr(dask_executor, "_wait_first", interrupted_mid_build)
    with pytest.raises(KeyboardInterrupt):
        DaskExecutor(cluster.address).run([coordinator.builds["tomli"]], context, Recorder())
    assert seen, "tomli was not seen building"
    # The worker stops the build (it checks the cancel flag every 2 s while it runs, and
    # again before uploading) and removes its folder; nothing reaches the index, even
    # after the build would have finished.
    deadline = time.monotonic() + 60
    while any(folder.exists() for folder in seen) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(folder.exists() for folder in seen)
    time.sleep(3)
    location = IndexLocation.parse(url)
    assert wheels_on_index(location, "tomli") == {}
    assert not [n for n in project_files(location, PROVENANCE_PROJECT) if "-tomli-" in n]


def test_a_worker_killed_mid_build_has_its_build_retried_on_the_other(
    cluster: Cluster,
    coordinator: Coordinator,
    coordinator_credentials: None,
    devpi_index: ManagedIndex,
    tmp_path: Path,
) -> None:
    url = fresh_index(devpi_index, "dask-killed-worker")
    context = context_for(coordinator, url, tmp_path / "logs")
    killed: list[tuple[str, Path]] = []
    done = threading.Event()

    def kill_the_builder() -> None:
        # Fromager has unpacked tomli's source on some worker: the build is under way.
        while not done.is_set():
            for folder in building_folders(cluster, "tomli", "2.2.1"):
                name = folder.relative_to(cluster.root).parts[0]
                cluster.kill(name)
                killed.append((name, folder))
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_the_builder)
    watcher.start()
    try:
        (outcome,) = DaskExecutor(cluster.address).run(
            [coordinator.builds["tomli"]], context, Recorder()
        )
    finally:
        done.set()
        watcher.join()
        for name, _ in killed:  # the next tests want two workers again
            cluster.start_worker(name)
            cluster.wait_for_workers(2)
    assert killed, "no worker was seen building tomli"
    (victim, folder) = killed[0]
    (survivor,) = {"worker-a", "worker-b"} - {victim}
    # Killed mid-build: its folder stayed behind with no wheel in it...
    assert not list(folder.glob("fromager/wheels-repo/downloads/*.whl"))
    # ...and the other worker built it again, from scratch.
    assert outcome.status == Status.BUILT, outcome.message
    assert outcome.worker == survivor
    location = IndexLocation.parse(url)
    assert outcome.wheel is not None
    assert wheels_on_index(location, "tomli") == {
        outcome.wheel: coordinator.local_wheels[outcome.wheel]
    }
    assert index_record(location, outcome.wheel)["worker"] == survivor


# --- the whole pipeline with --executor dask:// ------------------------------------------


def archives_of(work_dir: Path) -> dict[str, bytes]:
    folder = work_dir / "cpu" / "artifacts"
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.tar.xz"))}


def delete_index(index: ManagedIndex, url: str) -> None:
    """Remove an index of the session's devpi-server: made volatile first, as devpi asks."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    login = admin(index)
    token = base64.b64encode(f"{login.user}:{login.password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json",
               "Accept": "application/json"}  # fmt: skip
    for method, body in (("PATCH", b'["volatile=True"]'), ("DELETE", None)):
        request = urllib.request.Request(url.rstrip("/"), data=body, method=method,
                                         headers=headers)  # fmt: skip
        with opener.open(request, timeout=30) as reply:
            assert reply.status in (200, 201), (method, reply.status)


def test_build_on_the_cluster_gives_the_archives_of_a_local_build(
    cluster: Cluster, devpi_index: ManagedIndex, tmp_path: Path
) -> None:
    env = credentials_env(devpi_index)
    url = fresh_index(devpi_index, "dask-pipeline")
    local = tmp_path / "local"
    shutil.copytree(STACK, local)
    run_cli("build", local / "venvstacks.toml", "--index", url, "--jobs", "1", env=env)
    # The same stack on a second machine, with the locks the local build made and an
    # empty index at the same URL: the workers must build every wheel again, and the
    # locks (wheel names and sha256) hold only if they come out byte-identical.
    delete_index(devpi_index, url)
    assert fresh_index(devpi_index, "dask-pipeline") == url
    remote = tmp_path / "remote"
    shutil.copytree(local, remote, ignore=shutil.ignore_patterns("_srcstacks"))
    executor = "dask://" + cluster.address.removeprefix("tcp://")
    result = run_cli("build", remote / "venvstacks.toml", "--index", url, "--executor", executor,
                     env=env)  # fmt: skip
    summary = json.loads((remote / "_srcstacks" / "cpu" / "run-summary.json").read_text())
    workers = {entry["project"]: entry.get("worker") for entry in summary["entries"]}
    # The two packages were built on the cluster, one on each worker.
    assert {workers["idna"], workers["tomli"]} == {"worker-a", "worker-b"}, result.stderr
    built = archives_of(remote / "_srcstacks")
    assert built and built == archives_of(local / "_srcstacks")
