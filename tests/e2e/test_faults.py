"""End-to-end faults: killed runs, concurrent runs and a full disk lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from srcstacks.fsutil import PUBLISH_JOURNAL, interrupted_publish
from srcstacks.spec.config import load_config
from tests.conftest import BuiltStack, copy_built_stack, copy_demo_stack, run_cli

pytestmark = pytest.mark.e2e


def start_cli(*args: str | Path) -> subprocess.Popen[str]:
    """Start srcstacks in its own process group, as a shell would for a foreground job."""
    return subprocess.Popen(
        [sys.executable, "-m", "srcstacks", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(condition, what: str, timeout: float = 300) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def partial_files(*folders: Path) -> list[Path]:
    return [path for folder in folders if folder.exists() for path in folder.rglob(".*.part")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_killed_while_building_wheels_then_rerun(tmp_path: Path, signum: int) -> None:
    spec = copy_demo_stack(tmp_path)
    built = tmp_path / "_srcstacks" / "cpu" / "fromager" / "wheels-repo" / "downloads"
    process = start_cli("wheels", spec)
    wait_for(lambda: len(list(built.glob("*.whl"))) >= 2, "the first wheels")
    os.killpg(process.pid, signum)
    _, stderr = process.communicate(timeout=120)
    if signum == signal.SIGINT:
        assert process.returncode == 130, stderr
        assert stderr.strip().splitlines()[-1] == (
            "srcstacks: error: interrupted; finished work is kept, rerun the same command to resume"
        )
        assert "Traceback" not in stderr
    else:
        assert process.returncode == -signal.SIGKILL
    finished = {p.name: p.stat().st_mtime_ns for p in built.glob("*.whl")}

    run_cli("wheels", spec)
    run_cli("publish-wheels", spec)
    for name, mtime in finished.items():
        assert (built / name).stat().st_mtime_ns == mtime, f"{name} was rebuilt"
    config = load_config(spec)
    assert not partial_files(config.wheel_dir)
    assert {p.name for p in config.wheel_dir.glob("markupsafe-*.whl")}


@pytest.fixture(scope="module")
def fault_stack(
    built_stack: BuiltStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A private copy of the shared demo build for the tests below, which interrupt and
    rerun it (a copy, not a build of its own: the suite builds the demo once)."""
    yield copy_built_stack(built_stack, tmp_path_factory.mktemp("faults") / "stack")


# Loaded by the srcstacks process through PYTHONPATH (its tools never publish into the
# output dir): the first archive renamed into the output dir is followed by a signal to
# srcstacks itself, so the run dies in the middle of publishing the set.
KILL_WHILE_PUBLISHING = """
import os

_output_dir = os.environ["SRCSTACKS_TEST_OUTPUT_DIR"]
_signum = int(os.environ["SRCSTACKS_TEST_SIGNAL"])
_replace = os.replace


def replace(source, target, **kwargs):
    _replace(source, target, **kwargs)
    target = os.path.abspath(target)
    first = not os.path.exists(os.environ["SRCSTACKS_TEST_WITNESS"])
    if first and os.path.dirname(target) == _output_dir and target.endswith(".tar.xz"):
        with open(os.environ["SRCSTACKS_TEST_WITNESS"], "w") as witness:
            witness.write(os.path.basename(target))
        os.kill(os.getpid(), _signum)


os.replace = replace
"""


def published_set(output_dir: Path) -> dict[str, bytes]:
    """The archives and venvstacks' and srcstacks' records of them (SBOMs come later)."""
    return {
        str(path.relative_to(output_dir)): path.read_bytes()
        for path in sorted(output_dir.rglob("*"))
        if path.is_file()
        and not path.name.endswith((".cdx.json", ".part"))
        and path.name != PUBLISH_JOURNAL
    }


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_killed_while_publishing_archives_then_rerun(
    fault_stack: Path, tmp_path: Path, signum: int
) -> None:
    config = load_config(fault_stack)
    # A new set to publish: a changed requirement relocks the greeter, which changes its
    # archive and metadata (the other archives are made again byte for byte).
    original, extended = '["jinja2==3.1.6"]', '["jinja2==3.1.6", "markupsafe==3.0.4"]'
    text = fault_stack.read_text()
    if original in text:
        fault_stack.write_text(text.replace(original, extended))
    else:
        fault_stack.write_text(text.replace(extended, original))
    run_cli("lock", fault_stack)
    old = published_set(config.output_dir)
    injected = tmp_path / "inject"
    injected.mkdir()
    (injected / "sitecustomize.py").write_text(KILL_WHILE_PUBLISHING)
    witness = tmp_path / "killed-after"
    fault = {
        "PYTHONPATH": str(injected),
        "SRCSTACKS_TEST_OUTPUT_DIR": str(config.output_dir),
        "SRCSTACKS_TEST_SIGNAL": str(signum),
        "SRCSTACKS_TEST_WITNESS": str(witness),
    }

    killed = run_cli("archives", fault_stack, check=False, env=fault)
    assert witness.read_text() == "app-greeter.tar.xz", "not killed while publishing"
    if signum == signal.SIGINT:
        assert killed.returncode == 130, killed.stderr
        assert killed.stderr.strip().splitlines()[-1] == (
            "srcstacks: error: interrupted; finished work is kept, rerun the same command to resume"
        )
        assert "Traceback" not in killed.stderr
    else:
        assert killed.returncode == -signal.SIGKILL
    after_kill = published_set(config.output_dir)
    journal = interrupted_publish(config.output_dir)
    check = run_cli("verify", fault_stack, check=False)
    mismatches = [line for line in check.stdout.splitlines() if line.startswith("MISMATCH")]
    if signum == signal.SIGKILL:
        # Killed between two renames: the journal says so, and no reader acts on the mix.
        assert journal is not None
        assert check.returncode == 1
        assert any("killed part way" in line for line in mismatches), check.stdout
        deployed = run_cli("deploy", fault_stack, "--target", tmp_path / "d", check=False)
        assert deployed.returncode == 1
        assert "killed part way" in deployed.stderr and "Traceback" not in deployed.stderr
    else:
        # Ctrl-C waits until the set is whole: the new one, its replaced SBOMs gone with
        # the old archives (the sbom stage writes new ones next).
        assert journal is None
        assert not [line for line in mismatches if "no SBOM beside it" not in line], mismatches

    rerun = run_cli("archives", fault_stack)
    new = published_set(config.output_dir)
    assert new["app-greeter.tar.xz"] != old["app-greeter.tar.xz"], "no new set was published"
    if signum == signal.SIGKILL:
        assert "completed the interrupted publish" in rerun.stderr
    else:
        assert after_kill == new, "Ctrl-C left a set other than the new one"
    assert interrupted_publish(config.output_dir) is None
    assert not partial_files(config.output_dir, config.wheel_dir)
    run_cli("sbom", fault_stack)
    verified = run_cli("verify", fault_stack, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_second_run_on_the_same_work_dir_is_refused(fault_stack: Path) -> None:
    # --force: the copied stack is up to date, and the first run must hold the lock a while.
    first = start_cli("wheels", fault_stack, "--force")
    lock = load_config(fault_stack).work_dir / ".lock"
    wait_for(lambda: lock.exists() and lock.read_text().startswith("pid "), "the first run's lock")
    second = run_cli("wheels", fault_stack, check=False)
    assert second.returncode == 1
    assert f"is in use by srcstacks run pid {first.pid}" in second.stderr
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_while_publishing_keeps_previous_archives(
    fault_stack: Path, small_disk: Path
) -> None:
    output = small_disk / "artifacts"
    run_cli("archives", fault_stack, "--output-dir", output)
    run_cli("sbom", fault_stack, "--output-dir", output)
    before = {p.name: p.read_bytes() for p in output.glob("*.tar.xz")}
    # An edited launch module: the punycode app's archive (37 kB) is built and published
    # again (only archives whose bytes change are written). Leave 8 kB free: too little.
    launch = fault_stack.parent / "launch_modules" / "punycode.py"
    launch.write_text(launch.read_text() + "\n# edited\n")
    stats = os.statvfs(small_disk)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - (8 << 10)))

    result = run_cli("archives", fault_stack, "--output-dir", output, check=False)
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"srcstacks: error: {output}: cannot publish the archives")
    assert "No space left on device" in error and "already there are intact" in error
    assert {p.name: p.read_bytes() for p in output.glob("*.tar.xz")} == before
    assert not partial_files(output)
    # The previous archives are intact; the one thing verify finds is that the spec's
    # launch module is no longer the one in the archive (it compares them by content).
    verified = run_cli("verify", fault_stack, "--output-dir", output, check=False)
    assert verified.stdout.splitlines() == [
        "MISMATCH app-punycode.tar.xz: app-punycode/lib/python3.11/site-packages/punycode.py"
        " differs from the spec's module launch_modules/punycode.py"
    ], verified.stdout + verified.stderr

    filler.unlink()
    run_cli("archives", fault_stack, "--output-dir", output)
    run_cli("sbom", fault_stack, "--output-dir", output)
    run_cli("verify", fault_stack, "--output-dir", output)
