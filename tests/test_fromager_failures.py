"""What a failed ``fromager bootstrap`` is reported as, read from real Fromager 0.77 output.

The logs in ``fixtures/fromager_logs/`` were captured from Fromager runs (paths
shortened to ``/stack`` and ``/venv``); the constraints-conflict line is Fromager's own
message (``fromager/commands/bootstrap.py``), which needs two built versions to provoke.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from srcstacks.errors import (
    BuildError,
    ConfigError,
    ConstraintsConflictError,
    PatchFailedError,
    SettingsRejectedError,
    ToolError,
)
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.tools.compile_errors import build_failure_cause
from srcstacks.tools.fromager_errors import _ERROR_LINE, explain_failure
from srcstacks.tools.fromager_files import FailedStep, first_failure

LOGS = Path(__file__).parent / "fixtures" / "fromager_logs"


def classify(text: str, dirs: FromagerDirs | None = None, started: float = 0.0) -> Exception:
    errors = [(m["package"], m["message"]) for m in _ERROR_LINE.finditer(text)]
    generic = ToolError("fromager bootstrap failed", "/log")
    return explain_failure(text, errors, "/log", generic, dirs, started)


def test_unknown_settings_key_names_the_file_and_key() -> None:
    error = classify((LOGS / "settings-unknown-key.log").read_text())
    assert isinstance(error, SettingsRejectedError) and isinstance(error, ConfigError)
    assert str(error) == (
        "/stack/build-settings/markupsafe.yaml: Fromager rejects these build settings:"
        " 'bogus_key': Extra inputs are not permitted"
    )


def test_every_rejected_key_is_named_once() -> None:
    error = classify((LOGS / "settings-wrong-type-and-unknown-key.log").read_text())
    assert isinstance(error, SettingsRejectedError)
    message = str(error)
    assert message.startswith("/stack/build-settings/markupsafe.yaml: ")
    assert "'variants.cpu.env': Input should be a valid dictionary" in message
    assert "'variants.cpu.bogus': Extra inputs are not permitted" in message
    assert message.count("variants.cpu.bogus") == 1, message


@pytest.mark.parametrize("stack", ["/stack", "/my stack é"])
def test_patch_that_does_not_apply_is_a_patch_error(stack: str) -> None:
    text = (LOGS / "patch-hunk-failed.log").read_text().replace("/stack", stack)
    error = classify(text)
    assert isinstance(error, PatchFailedError) and isinstance(error, BuildError)
    message = str(error)
    assert "patch patches/idna/0001-bad.patch does not apply to idna" in message
    assert "Hunk #1 FAILED at 1 in idna/core.py" in message
    assert f"(rejects in {stack}/wd/idna-3.11/idna-3.11/idna/core.py.rej)" in message


def test_fromager_0_101s_patch_failure_names_the_project_its_events_name() -> None:
    # 0.101 writes the version into every line's prefix ("idna-3.11: Hunk #1 FAILED");
    # the events file says which package version failed, and in which step.
    text = (LOGS / "patch-hunk-failed-0.101.log").read_text()
    failed = FailedStep("idna", "3.11", "prepare_source", "Command 'patch' returned 1")
    generic = ToolError("fromager bootstrap failed", "/log")
    error = explain_failure(text, [], "/log", generic, failed=failed)
    assert isinstance(error, PatchFailedError)
    assert str(error).startswith(
        "patch patches/idna/0001-bad.patch does not apply to idna 3.11: Hunk #1 FAILED at 1"
        " in README.rst"
    )


def test_first_failure_is_read_from_the_events_file(tmp_path: Path) -> None:
    events = tmp_path / "fromager-bootstrap.events.jsonl"
    assert first_failure(events) is None  # no file: nothing to say
    events.write_text(
        (
            Path(__file__).parent / "fixtures" / "fromager_events" / "0.101-patch-failed.jsonl"
        ).read_text()
    )
    failed = first_failure(events)
    assert failed is not None
    assert (failed.project, failed.version, failed.step) == ("idna", "3.11", "prepare_source")
    assert "patch" in failed.error


def test_constraints_conflict_is_its_own_type() -> None:
    text = (
        "12:00:00 ERROR Could not produce a pip compatible constraints file. Please review"
        " /stack/work-dir/constraints.txt for more details\n"
    )
    error = classify(text)
    assert isinstance(error, ConstraintsConflictError)
    # A log without that line is not one (negative control).
    text = (LOGS / "unknown-project.log").read_text()
    assert not isinstance(classify(text), ConstraintsConflictError)


def test_unknown_project_names_the_project_and_fromager_log() -> None:
    error = classify((LOGS / "unknown-project.log").read_text())
    assert type(error) is BuildError
    assert "srcstacks-no-such-project-anywhere" in str(error)
    assert str(error).endswith("(log: /log)")


def _build_log(dirs: FromagerDirs, folder: str, mtime: float) -> Path:
    path = dirs.work_dir / folder / "build.log"
    path.parent.mkdir(parents=True)
    path.write_text("compile error\n")
    os.utime(path, (mtime, mtime))
    return path


@pytest.mark.parametrize("written_this_run", [True, False])
def test_only_a_build_log_written_during_this_run_is_blamed(
    tmp_path: Path, written_this_run: bool
) -> None:
    dirs = FromagerDirs(tmp_path)
    started = time.time()
    _build_log(dirs, "markupsafe-3.0.2", started - 3600)  # an earlier run's, newer version
    current = _build_log(
        dirs, "markupsafe-3.0.4", started + 1 if written_this_run else started - 7200
    )
    text = "12:00:00 ERROR markupsafe: command failed with exit code 1: gcc ...\n"
    error = classify(text, dirs, started)
    assert type(error) is BuildError
    if written_this_run:
        assert str(error).endswith(f"(log: {current})"), error
    else:
        assert str(error).endswith("(log: /log)"), error  # Fromager's log, not a stale one


def test_a_rust_package_without_cargo_says_to_install_rust() -> None:
    error = classify((LOGS / "rust-no-cargo.log").read_text())
    assert isinstance(error, BuildError)
    assert str(error) == (
        "tinyrs has Rust code to compile and no cargo and rustc were found on PATH: install"
        " Rust (rustup, or Debian's cargo and rustc packages) and build again (log: /log)"
    )


# cargo's own words (1.95) when the crate registry cannot be reached, and when a lock
# file pins a version the registry does not have, inside Fromager's error line.
CARGO_UNREACHABLE = """\
01:02:03 ERROR tinyrs: command failed with exit code 101: cargo vendor /w/tinyrs-0.1.0/vendor
error: failed to sync

Caused by:
  failed to load lockfile for /w/tinyrs-0.1.0

Caused by:
  failed to get `itoa` as a dependency of package `tinyrs v0.1.0 (/w/tinyrs-0.1.0)`

Caused by:
  download of config.json failed

Caused by:
  failed to download from `https://index.crates.io/config.json`

Caused by:
  [7] Could not connect to server (Failed to connect to 127.0.0.1 port 9 after 0 ms)
"""


def test_an_unreachable_crate_registry_names_the_crate_and_the_cause() -> None:
    error = classify(CARGO_UNREACHABLE)
    assert isinstance(error, BuildError)
    assert str(error).startswith(
        "tinyrs: cargo could not fetch crate itoa, asked for by tinyrs v0.1.0 (/w/tinyrs-0.1.0):"
        " [7] Could not connect to server"
    )
    assert "[tool.srcstacks.cargo]" in str(error) and "\n" not in str(error)


def test_a_locked_version_the_registry_lacks_is_named() -> None:
    text = CARGO_UNREACHABLE.split("Caused by:\n  failed to get")[0] + (
        'Caused by:\n  failed to select a version for the requirement `itoa = "=1.0.999"`'
        " (locked to 1.0.999)\n  candidate versions found which didn't match: 1.0.19\n"
    )
    error = classify(text)
    assert str(error).startswith(
        'tinyrs: no version of crate itoa = "=1.0.999" is in the crate registry (its'
        " Cargo.lock pins 1.0.999)"
    )


def test_a_sys_crate_without_its_system_library_names_the_debian_package(tmp_path: Path) -> None:
    dirs = FromagerDirs(tmp_path)
    started = time.time()
    log = _build_log(dirs, "tinyrs-0.1.0", started + 1)
    # cargo's own output (1.95) for openssl-sys with no openssl.pc to be found.
    log.write_text((Path(__file__).parent / "fixtures" / "cargo" / "openssl-sys-missing.log")
                   .read_text())  # fmt: skip
    text = "12:00:00 ERROR tinyrs: command failed with exit code 1: maturin ...\n"
    error = classify(text, dirs, started)
    assert str(error) == (
        "building tinyrs from source failed: crate openssl-sys needs the system library"
        " openssl, which is not installed: install Debian's libssl-dev (apt-get install"
        f" libssl-dev) (log: {log})"
    )
    # A library no table names: its pkg-config file is what to look for.
    log.write_text("The system library `libfoo` required by crate `foo-sys` was not found.\n")
    assert "install the development package of libfoo (its libfoo.pc file)" in str(
        classify(text, dirs, started)
    )


# The end of a build.log for Pillow 12 built with no libtiff headers (setup.py's message).
PILLOW_WITHOUT_TIFF = """\
12:00:03 INFO pillow: running build_ext
12:00:03 INFO pillow: error: subprocess-exited-with-error
  Traceback (most recent call last):
    File "setup.py", line 1000, in <module>
  RequiredDependencyException:

  The headers or library files could not be found for tiff,
  a required dependency when compiling Pillow from source.

  Please see the install instructions at:
     https://pillow.readthedocs.io/en/latest/installation/basic-installation.html
12:00:04 ERROR pillow: command failed with exit code 1: /w/run_network_isolation.sh ...
"""


@pytest.mark.parametrize(
    ("log", "cause"),
    [
        (PILLOW_WITHOUT_TIFF, "the system library tiff is not installed: install Debian's"
         " libtiff-dev (apt-get install libtiff-dev)"),
        ("src/_x.c:3:10: fatal error: yaml.h: No such file or directory\n",
         "the header yaml.h is not installed: install Debian's libyaml-dev"
         " (apt-get install libyaml-dev)"),
        ("/usr/bin/ld: cannot find -lxslt: No such file or directory\n",
         "the system library xslt is not installed: install Debian's libxslt1-dev"),
        ('../meson.build:5:0: ERROR: Dependency "OpenBLAS" not found, tried pkgconfig\n',
         "the system library OpenBLAS is not installed: install Debian's libopenblas-dev"),
        # No table names it: how to find the package.
        ("x.c:1:10: fatal error: qux/qux.h: No such file or directory\n",
         "the header qux/qux.h is not installed: install the Debian package that provides it"
         " (apt-file search qux/qux.h)"),
        # A compile error: the first one, not what follows from it or the wrappers.
        ("12:00:01 INFO regex: src/_regex.c:12:5: error: 'x' undeclared (first use)\n"
         "12:00:01 INFO regex: src/_regex.c:13:5: error: 'y' undeclared\n"
         "12:00:02 INFO regex: error: command '/usr/bin/gcc' failed with exit code 1\n",
         "src/_regex.c:12:5: error: 'x' undeclared (first use)"),
        # A parallel make wrote another job's command line into the same line first.
        ("gcc -c -O3 -Wall -o Objects/abstract.o Objects/abstract.c Programs/python.c:2:2:"
         " error: #error srcstacks test: this build must fail\n"
         "make: *** [Makefile:1234: Objects/abstract.o] Error 1\n",
         "Programs/python.c:2:2: error: #error srcstacks test: this build must fail"),
        # Else the backend's last error line that is not a wrapper's.
        ("12:00:01 INFO demo: ValueError: no version found\n"
         "12:00:01 INFO demo: error: invalid pyproject.toml config: `project.name`\n"
         "12:00:02 INFO demo: error: subprocess-exited-with-error\n",
         "error: invalid pyproject.toml config: `project.name`"),
        ("12:00:02 INFO demo: nothing wrong said here\n", ""),
    ],
)  # fmt: skip
def test_a_failed_builds_cause_is_the_line_of_its_log_that_says_it(log: str, cause: str) -> None:
    found = build_failure_cause(log)
    assert found.startswith(cause) and (cause or not found)
    assert "\n" not in found


def test_the_cause_replaces_fromagers_failed_command_in_the_error(tmp_path: Path) -> None:
    dirs = FromagerDirs(tmp_path)
    started = time.time()
    log = _build_log(dirs, "pillow-12.0.0", started + 1)
    log.write_text(PILLOW_WITHOUT_TIFF)
    text = "12:00:04 ERROR pillow: command failed with exit code 1: /w/run_network_isolation.sh\n"
    assert str(classify(text, dirs, started)) == (
        "building pillow from source failed: the system library tiff is not installed:"
        f" install Debian's libtiff-dev (apt-get install libtiff-dev) (log: {log})"
    )
