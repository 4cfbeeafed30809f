"""Unit tests of the Dask executor's own logic: the payload, the ABI checks, the order of
submissions (with a fake client), the address, the pins and what a task carries.

The real cluster is in tests/e2e/test_dask_builds.py.
"""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from srcstacks.build.executors.base import (
    BuildContext,
    BuildEvent,
    BuildOutcome,
    PackageBuild,
    Status,
)
from srcstacks.build.executors.dask_executor import DaskExecutor, _Run, is_ready, scheduler_address
from srcstacks.build.executors.dask_payload import (
    Interpreter,
    interpreter_mismatch,
    make_payload,
    tool_versions,
    unpack_payload,
    versions_mismatch,
    wheel_tag_mismatch,
)
from srcstacks.build.executors.dask_task import (
    BuildTask,
    TaskResult,
    build_and_publish,
    run_cancellable,
)
from srcstacks.build.executors.index_staging import constraints_text
from srcstacks.errors import ConfigError, ExecutorError
from srcstacks.index.private import IndexLocation
from srcstacks.layout import Layout
from srcstacks.spec.config import load_config
from srcstacks.spec.settings import read_settings
from srcstacks.tools.fromager_files import BuildOrderEntry
from srcstacks.tools.process import tool_env
from tests.conftest import REPO_ROOT

STACK = REPO_ROOT / "tests" / "stacks" / "dask_pair"


# --- the payload ----------------------------------------------------------------------


def folders(root: Path) -> tuple[Path, Path]:
    settings, patches = root / "build-settings", root / "patches"
    (patches / "tomli").mkdir(parents=True)
    settings.mkdir()
    (settings / "idna.yaml").write_text("env:\n  A: '1'\n")
    (patches / "tomli" / "0001.patch").write_text("--- a\n+++ b\n")
    return settings, patches


def test_payload_round_trips_and_is_the_same_bytes_for_the_same_folders(tmp_path: Path) -> None:
    settings, patches = folders(tmp_path / "stack")
    payload = make_payload(settings, patches)
    assert make_payload(settings, patches) == payload
    got_settings, got_patches = unpack_payload(payload, tmp_path / "worker")
    assert (got_settings / "idna.yaml").read_text() == "env:\n  A: '1'\n"
    assert (got_patches / "tomli" / "0001.patch").read_text() == "--- a\n+++ b\n"
    (patches / "tomli" / "0001.patch").write_text("--- a\n+++ c\n")
    assert make_payload(settings, patches) != payload


def test_payload_carries_a_linked_file_as_its_content(tmp_path: Path) -> None:
    settings, patches = folders(tmp_path / "stack")
    (tmp_path / "elsewhere.yaml").write_text("env: {}\n")
    (settings / "tomli.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    got_settings, _ = unpack_payload(make_payload(settings, patches), tmp_path / "worker")
    linked = got_settings / "tomli.yaml"
    assert not linked.is_symlink() and linked.read_text() == "env: {}\n"


def test_missing_folders_travel_as_empty_ones(tmp_path: Path) -> None:
    payload = make_payload(tmp_path / "no-settings", tmp_path / "no-patches")
    settings, patches = unpack_payload(payload, tmp_path / "worker")
    assert list(settings.iterdir()) == [] and list(patches.iterdir()) == []


def test_a_payload_member_outside_its_folder_is_refused(tmp_path: Path) -> None:
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as archive:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(ConfigError, match="sent to the worker"):
        unpack_payload(stream.getvalue(), tmp_path / "worker")
    assert not (tmp_path / "escaped.txt").exists()


# --- another Python, another platform ------------------------------------------------


def test_a_worker_on_another_python_or_platform_is_refused() -> None:
    here = Interpreter.here()
    assert interpreter_mismatch(here, here) == ""
    other_platform = replace(here, platform="macosx-14.0-arm64")
    assert "macosx-14.0-arm64" in interpreter_mismatch(here, other_platform)
    elsewhere = "3.99"
    other_python = replace(here, python_version=elsewhere)
    assert elsewhere in interpreter_mismatch(here, other_python)
    python, abi, platform = here.tags[0].split("-")
    other_abi = replace(here, tags=(f"{python}-{abi}d-{platform}", *here.tags[1:]))
    assert interpreter_mismatch(here, other_abi)


def test_a_wheel_this_python_would_not_install_is_refused() -> None:
    here = Interpreter.here()
    assert wheel_tag_mismatch("tomli-2.2.1-0-py3-none-any.whl", here) == ""
    assert wheel_tag_mismatch(f"m-1.0-0-{here.tags[0]}.whl", here) == ""
    refused = wheel_tag_mismatch("m-1.0-0-cp399-cp399-manylinux_2_17_x86_64.whl", here)
    assert "cp399-cp399-manylinux_2_17_x86_64" in refused and here.describe() in refused
    assert wheel_tag_mismatch("m-1.0-0-cp311-cp311-macosx_14_0_arm64.whl", here)
    assert "not a wheel file name" in wheel_tag_mismatch("nonsense.whl", here)


# --- submission order ------------------------------------------------------------------


@dataclass(eq=False)
class FakeFuture:
    result_value: TaskResult
    finished: bool = False

    def done(self) -> bool:
        return self.finished

    def result(self) -> TaskResult:
        return self.result_value


@dataclass
class FakeClient:
    """Runs nothing: records submissions; each finishes when the fake wait says so."""

    fails: set[str]
    submitted: list[str] = field(default_factory=list)
    running: list[FakeFuture] = field(default_factory=list)
    cancelled: list[Any] = field(default_factory=list)
    handler: Callable[[tuple[float, dict[str, Any]]], None] | None = None

    def subscribe_topic(self, topic: str, handler: Any) -> None:
        self.handler = handler

    def unsubscribe_topic(self, topic: str) -> None:
        self.handler = None

    def submit(self, function: Any, task: BuildTask, **options: Any) -> FakeFuture:
        assert options["pure"] is False and options["retries"] == 1
        build = task.build
        self.submitted.append(build.project)
        assert self.handler is not None
        self.handler((0.0, {"kind": "started", "key": list(build.key), "worker_name": "w1"}))
        status = Status.FAILED if build.project in self.fails else Status.BUILT
        outcome = BuildOutcome(build, status, 1.0, "w1", message="boom" if status else "")
        future = FakeFuture(TaskResult(outcome, log_text=""))
        self.running.append(future)
        return future

    def cancel(self, futures: list[Any], force: bool = False) -> None:
        self.cancelled.extend(futures)

    def finish_oldest(self, futures: list[Any], timeout: float) -> set[Any]:
        oldest = next(future for future in self.running if future in futures)
        oldest.finished = True
        return {oldest}


def plan() -> list[PackageBuild]:
    b = PackageBuild("b", "1.0", "https://x/b-1.0.tar.gz")
    a = PackageBuild("a", "1.0", "https://x/a-1.0.tar.gz", needs=(b.key,))
    c = PackageBuild("c", "1.0", "https://x/c-1.0.tar.gz")
    d = PackageBuild("d", "1.0", "https://x/d-1.0.tar.gz", needs=(a.key, ("tool", "2")))
    return [a, b, c, d]


def fake_run(client: FakeClient, builds: list[PackageBuild], events: list[BuildEvent]) -> _Run:
    tasks = {build.key: fake_task(build) for build in builds}
    context: Any = None
    return _Run(client, tasks, events.append, context, 1, wait_first=client.finish_oldest)  # type: ignore[arg-type]


def fake_task(build: PackageBuild) -> BuildTask:
    return BuildTask(build, IndexLocation.parse("http://127.0.0.1:1/u/i/"), "cpu", b"", "patches",
                     "0" * 64, "", "315532800", Interpreter.here(), tool_versions(),
                     "run")  # fmt: skip


def test_a_build_is_submitted_only_once_what_it_needs_is_built() -> None:
    client, events = FakeClient(fails=set()), list[BuildEvent]()
    builds = plan()
    outcomes = fake_run(client, builds, events).run(builds)
    # b and c are ready at once; a waits for b, d for a (a need outside the plan is built).
    assert client.submitted == ["b", "c", "a", "d"]
    assert [o.status for o in outcomes] == [Status.BUILT] * 4
    assert [o.build.project for o in outcomes] == ["a", "b", "c", "d"]
    started = [e.build.project for e in events if e.kind == "started"]
    finished = [e.build.project for e in events if e.kind == "finished"]
    assert sorted(started) == sorted(finished) == ["a", "b", "c", "d"]
    assert all(e.worker == "w1" for e in events)


def test_a_failure_stops_new_submissions_and_running_builds_finish() -> None:
    client, events = FakeClient(fails={"b"}), list[BuildEvent]()
    builds = plan()
    outcomes = {o.build.project: o for o in fake_run(client, builds, events).run(builds)}
    assert client.submitted == ["b", "c"]
    assert outcomes["b"].status == Status.FAILED
    assert outcomes["c"].status == Status.BUILT  # was running: it finished
    assert outcomes["a"].status == Status.NOT_STARTED
    assert "needs b 1.0, which was not built" in outcomes["a"].message
    assert outcomes["d"].status == Status.NOT_STARTED


def test_ctrl_c_cancels_the_running_builds() -> None:
    client = FakeClient(fails=set())
    builds = plan()

    def interrupted(futures: list[Any], timeout: float) -> set[Any]:
        raise KeyboardInterrupt

    run = fake_run(client, builds, [])
    run.wait_first = interrupted
    with pytest.raises(KeyboardInterrupt):
        run.run(builds)
    assert len(client.cancelled) == 2  # b and c were running
    assert client.handler is None  # the run's topic was left


def test_is_ready_counts_only_planned_needs() -> None:
    a, b, *_ = plan()
    assert not is_ready(a, {}, {a.key, b.key})
    assert is_ready(a, {}, {a.key})
    failed = BuildOutcome(b, Status.FAILED, 0.0, "w")
    assert not is_ready(a, {b.key: failed}, {a.key, b.key})


# --- the address, the pins, and what a task carries ----------------------------------


def test_scheduler_address() -> None:
    assert scheduler_address("dask://10.1.2.3:8786") == "tcp://10.1.2.3:8786"
    assert scheduler_address("tcp://host:8786") == "tcp://host:8786"
    assert scheduler_address("host:8786") == "tcp://host:8786"
    for bad in ("dask://host", "dask://host:port", "dask://:8786", "dask://h:1/x"):
        with pytest.raises(ConfigError, match="expected dask://HOST:PORT"):
            scheduler_address(bad)


def test_workers_are_pinned_to_the_versions_resolved_here() -> None:
    def entry(project: str, version: str) -> BuildOrderEntry:
        return BuildOrderEntry(project, version, False, "", "")

    entries = [entry("flit-core", "3.12.0"), entry("idna", "3.11"), entry("markupsafe", "3.0.2"),
               entry("markupsafe", "3.0.3")]  # fmt: skip
    assert constraints_text(entries) == "flit-core==3.12.0\nidna==3.11\n"


def test_a_task_carries_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SRCSTACKS_INDEX_USER", "builder")
    monkeypatch.setenv("SRCSTACKS_INDEX_PASSWORD", "s3cret-never-sent")
    config = load_config(STACK / "venvstacks.toml")
    layout = Layout.of(config)
    context = BuildContext(config, layout, layout.fromager, read_settings(config.settings_dir),
                           tmp_path, IndexLocation.parse("http://127.0.0.1:1/u/i/"))  # fmt: skip
    build = PackageBuild("tomli", "2.2.1", "https://x/tomli-2.2.1.tar.gz")
    task = DaskExecutor("dask://127.0.0.1:1")._task(build, context, "0" * 64, "", "run")
    data = pickle.dumps(task)
    assert b"s3cret-never-sent" not in data and b"builder" not in data
    # The negative control: the patch it does carry is in the same bytes.
    assert b"PATCHED_BY" in data
    assert task.patches_prefix == "patches"


def test_the_executor_module_imports_no_dask() -> None:
    # make_executor imports it only for dask://, but even then dask loads only when a
    # run connects: a stack without Dask never pays for it.
    code = (
        "import sys, srcstacks.build.executors.dask_executor;"
        " print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert result.stdout.strip() == "[]"


# --- the worker's refusals before it builds --------------------------------------------


def never_cancelled(fresh: bool = False) -> bool:
    return False


def test_a_worker_without_credentials_builds_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SRCSTACKS_INDEX_USER", raising=False)
    monkeypatch.delenv("SRCSTACKS_INDEX_PASSWORD", raising=False)
    task = fake_task(PackageBuild("tomli", "2.2.1", "https://x/tomli-2.2.1.tar.gz"))
    with pytest.raises(ExecutorError) as caught:
        build_and_publish(task, "w1", tmp_path, tmp_path / "log", never_cancelled)
    assert "set SRCSTACKS_INDEX_USER and SRCSTACKS_INDEX_PASSWORD" in str(caught.value)
    assert "worker w1" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # nothing unpacked, nothing built


def test_a_worker_on_another_interpreter_builds_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SRCSTACKS_INDEX_USER", "builder")
    monkeypatch.setenv("SRCSTACKS_INDEX_PASSWORD", "pw")
    task = fake_task(PackageBuild("tomli", "2.2.1", "https://x/tomli-2.2.1.tar.gz"))
    task = replace(task, target=replace(task.target, python_version="3.99"))
    with pytest.raises(ExecutorError) as caught:
        build_and_publish(task, "w1", tmp_path, tmp_path / "log", never_cancelled)
    assert "refused to build tomli 2.2.1" in str(caught.value)
    assert "another ABI or by other tools is never published" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_worker_with_other_tool_versions_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    here = tool_versions()
    assert versions_mismatch(here, here) == ""
    other = (("srcstacks", "0.0.1"), *here[1:])
    assert "srcstacks" in versions_mismatch(here, other)
    assert "fromager missing" in versions_mismatch(here[:1], here)
    monkeypatch.setenv("SRCSTACKS_INDEX_USER", "builder")
    monkeypatch.setenv("SRCSTACKS_INDEX_PASSWORD", "pw")
    task = replace(fake_task(PackageBuild("tomli", "2.2.1", "https://x/t.tar.gz")), versions=other)
    with pytest.raises(ExecutorError, match=r"the coordinator has 0\.0\.1"):
        build_and_publish(task, "w1", tmp_path, tmp_path / "log", never_cancelled)
    assert list(tmp_path.iterdir()) == []


def test_a_cancelled_build_is_stopped_with_all_it_started(tmp_path: Path) -> None:
    marker = str(tmp_path / "work-dir")
    child = tmp_path / "child.pid"
    # A "build" that starts a child of its own and prints a line every 50 ms for 30 s.
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(child)!r}, 'w').write(str(p.pid))\n"
        "for i in range(600):\n    print(i, flush=True); time.sleep(0.05)\n"
    )
    asked: list[int] = []

    def cancelled(fresh: bool = False) -> bool:
        asked.append(1)
        return len(asked) > 3

    started = time.monotonic()
    with pytest.raises(ExecutorError, match="the coordinator cancelled the run"):
        run_cancellable([sys.executable, "-c", script, marker], log_path=tmp_path / "log",
                        cwd=tmp_path, env=tool_env(), marker=marker,
                        cancelled=cancelled)  # fmt: skip
    assert time.monotonic() - started < 15
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the reaper kills it; the kernel may take a moment to reap
    assert not Path(f"/proc/{pid}").exists()  # the build's own child went with it


def test_a_build_nobody_cancelled_runs_to_its_end(tmp_path: Path) -> None:
    script = "for i in range(5): print(i)"
    run_cancellable([sys.executable, "-c", script], log_path=tmp_path / "log", cwd=tmp_path,
                    env=tool_env(), marker="unused", cancelled=never_cancelled)  # fmt: skip
    assert (tmp_path / "log").read_text().splitlines()[-1] == "4"


def test_the_builds_of_another_pythons_group_are_for_that_python() -> None:
    from srcstacks.build.executors.dask_executor import target_of
    from srcstacks.tools.toolchain import Toolchain, find_interpreter, own_toolchain

    assert target_of(None) == Interpreter.here() == target_of(own_toolchain())
    other_minor = "3.12" if sys.version_info[:2] == (3, 11) else "3.11"
    other = find_interpreter(other_minor)
    assert other is not None, f"this project's machines have CPython {other_minor}"
    target = target_of(Toolchain(other.path, other, "0.101.0", own=False))
    assert target.python_version == other_minor
    assert target.tags[0].startswith(f"cp{other_minor.replace('.', '')}-")
    # A worker on this Python is refused for that group; one on that Python is not.
    assert other_minor in interpreter_mismatch(Interpreter.here(), target)
    assert interpreter_mismatch(target, target) == ""


def test_a_worker_fetches_crates_through_the_specs_crates_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from srcstacks.build.executors import dask_task
    from srcstacks.layout.fromager import FromagerDirs

    seen: dict[str, Any] = {}

    def fake_run(command: list[str], **kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(dask_task, "run_cancellable", fake_run)
    build = PackageBuild("tinyrs", "0.1.0", "http://127.0.0.1:1/tinyrs-0.1.0.tar.gz")
    dirs = FromagerDirs(tmp_path / "worker")
    mirror = "sparse+https://crates.example/index/"
    task = replace(fake_task(build), cargo_registry=mirror)
    dask_task.run_fromager_build(task, dirs, tmp_path, tmp_path, tmp_path / "log", never_cancelled)
    assert seen["env"]["CARGO_HOME"] == str(dirs.cargo_home)
    config = tomllib.loads((dirs.cargo_home / "config.toml").read_text())
    assert config["source"]["srcstacks-mirror"] == {"registry": mirror}
    # Without a mirror the worker's cargo home has no config: crates.io itself.
    other = FromagerDirs(tmp_path / "other")
    dask_task.run_fromager_build(fake_task(build), other, tmp_path, tmp_path, tmp_path / "log",
                                 never_cancelled)  # fmt: skip
    assert not (other.cargo_home / "config.toml").exists()
