"""The build toolchain of one Python ``X.Y``: the interpreter Fromager runs on, and Fromager.

Every compiled wheel carries the ABI of the interpreter that built it, so a layer's
wheels are built by a Fromager running on a CPython of its runtime's ``X.Y``. When that
is the Python running srcstacks, it is srcstacks' own environment (its Fromager is the
one ``pyproject.toml`` pins for that Python). Otherwise srcstacks finds a CPython
``X.Y`` on this machine (:func:`find_interpreter`) and installs a toolchain from it
(:func:`install_toolchain`) into ``<work_dir>/toolchains/cpython-<X.Y.Z>/``: a venv
holding the versions locked in ``srcstacks/toolchains/fromager-py<X.Y>.txt`` (Fromager
0.77.0 on 3.11, 0.101.0 on 3.12 and later, each with hashes) and a copy of srcstacks'
own package, whose entry point (:mod:`srcstacks.tools.fromager_main`) runs Fromager.

Reads the interpreters it is pointed at; writes only the toolchain folder, whose
``srcstacks-toolchain.json`` (written last) says what it was made from: a folder
without it, or made from anything else, is made again, so an install cut off half way
is never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import srcstacks
from srcstacks.errors import ToolError
from srcstacks.fsutil import atomic_write_text
from srcstacks.layout.ownership import remove_tree
from srcstacks.tools.process import run_logged, run_probe, tool_env

TOOLCHAINS = Path(__file__).resolve().parent.parent / "toolchains"
MARKER = "srcstacks-toolchain.json"

_PROBE = """
import json, platform, sys, sysconfig
print(json.dumps({
    "implementation": platform.python_implementation(),
    "version": platform.python_version(),
    "base_prefix": sys.base_prefix,
    "ldshared": sysconfig.get_config_var("LDSHARED") or "",
    "executable": sys.executable,
}))
"""


@dataclass(frozen=True)
class Interpreter:
    """A CPython on this machine, as it describes itself."""

    path: Path  # the command that runs it
    version: str  # X.Y.Z
    base_prefix: str  # its installation (for the compilers' path maps)
    ldshared: str  # how it links extensions (sysconfig's LDSHARED)

    @property
    def minor(self) -> str:
        """``X.Y``."""
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class Toolchain:
    """What builds one ``X.Y``'s wheels: ``python -m srcstacks.tools.fromager_main``."""

    python: Path  # the interpreter Fromager runs on (a toolchain venv's, or srcstacks')
    interpreter: Interpreter  # the CPython it is (or was made from)
    fromager_version: str
    own: bool  # srcstacks' own environment, not an installed toolchain

    @property
    def scripts(self) -> Path:
        """Its ``bin`` folder: Fromager runs ``wheel`` and ``uv`` from PATH."""
        return self.python.parent


def probe(command: str | Path) -> Interpreter | None:
    """Ask ``command`` what it is; ``None`` when it cannot run or is not CPython.

    Asked once per process while the file it runs is unchanged (and, for a pyenv shim,
    pyenv's choice): one run asks for each runtime's interpreter from several stages,
    and starting a CPython, or a shim that finds none, takes 20 to 150 ms each time.
    """
    try:
        # A bare name (``python3.12``) is the one on PATH, as running it would find.
        found = Path(shutil.which(command) or command).resolve().stat()
    except OSError:
        return None
    key = (str(command), found.st_mtime_ns, found.st_size, os.environ.get("PYENV_VERSION"))
    if key not in _PROBED:
        _PROBED[key] = _ask(command)
    return _PROBED[key]


_PROBED: dict[tuple[str, int, int, str | None], Interpreter | None] = {}


def _ask(command: str | Path) -> Interpreter | None:
    try:
        data = json.loads(run_probe([str(command), "-I", "-c", _PROBE], timeout=30))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if data.get("implementation") != "CPython":
        return None
    return Interpreter(Path(command), data["version"], data["base_prefix"], data["ldshared"])


def running_interpreter() -> Interpreter:
    """The CPython running srcstacks: its installation's own interpreter, not a venv's."""
    import platform
    import sysconfig

    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    return Interpreter(
        Path(sys.base_prefix) / "bin" / f"python{minor}",
        platform.python_version(),
        sys.base_prefix,
        sysconfig.get_config_var("LDSHARED") or "",
    )


def candidates(minor: str) -> list[Path]:
    """Where a CPython ``minor`` (``X.Y``) may be on this machine, best first.

    ``pythonX.Y`` on PATH; pyenv's installed versions (its shims answer only for the
    versions pyenv was told to expose, so its ``versions/`` folder is read directly),
    newest patch release first; uv's managed interpreters.
    """
    found: list[Path] = []
    if on_path := shutil.which(f"python{minor}"):
        found.append(Path(on_path))
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    pyenv = sorted(
        (pyenv_root / "versions").glob(f"{minor}.*/bin/python{minor}"),
        key=lambda path: _release(path.parent.parent.name),
        reverse=True,
    )
    found += pyenv
    uv_root = Path(
        os.environ.get("UV_PYTHON_INSTALL_DIR") or Path.home() / ".local/share/uv/python"
    )
    found += sorted(uv_root.glob(f"cpython-{minor}.*/bin/python{minor}"), reverse=True)
    return found


def _release(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return ()


def find_interpreter(minor: str, exact: str | None = None) -> Interpreter | None:
    """A CPython ``minor`` (``X.Y``) on this machine, ``exact`` (``X.Y.Z``) if given.

    The running Python first, when it is one; ``None`` when none is found.
    """
    here = running_interpreter()
    if here.minor == minor and exact in (None, here.version):
        return here
    for command in candidates(minor):
        interpreter = probe(command)
        if interpreter and interpreter.minor == minor and exact in (None, interpreter.version):
            return interpreter
    return None


def installed_pythons() -> list[str]:
    """``X.Y.Z`` of every CPython :func:`candidates` finds, for error messages."""
    versions = {running_interpreter().version}
    for minor in ("3.10", "3.11", "3.12", "3.13", "3.14"):
        for command in candidates(minor):
            if (interpreter := probe(command)) is not None:
                versions.add(interpreter.version)
    return sorted(versions, key=_release)


def requirements_file(minor: str) -> Path:
    """The locked requirements of a toolchain on CPython ``minor``."""
    name = "fromager-py3.11.txt" if _release(minor) < (3, 12) else "fromager-py3.12.txt"
    return TOOLCHAINS / name


def locked_fromager(minor: str) -> str:
    """The Fromager version a toolchain on CPython ``minor`` gets."""
    for line in requirements_file(minor).read_text(encoding="utf-8").splitlines():
        if line.startswith("fromager=="):
            return line.split("==", 1)[1].split()[0]
    raise ToolError(f"{requirements_file(minor)}: no fromager pin")


def own_toolchain() -> Toolchain:
    """srcstacks' own environment as the toolchain of the Python running it."""
    from importlib import metadata

    return Toolchain(
        Path(sys.executable), running_interpreter(), metadata.version("fromager"), True
    )


def install_toolchain(folder: Path, interpreter: Interpreter, log_path: Path) -> Toolchain:
    """The toolchain made from ``interpreter`` in ``folder``, installed there if need be.

    ``folder`` is srcstacks' own (inside the work dir); it is emptied and made again
    when its marker does not match what it would be made from now.
    """
    requirements = requirements_file(interpreter.minor)
    origin = {
        "interpreter": str(interpreter.path),
        "python_version": interpreter.version,
        "requirements_sha256": hashlib.sha256(requirements.read_bytes()).hexdigest(),
        "srcstacks_sha256": _package_digest(),
    }
    python = folder / "bin" / "python"
    toolchain = Toolchain(python, interpreter, locked_fromager(interpreter.minor), False)
    marker = folder / MARKER
    try:
        if json.loads(marker.read_text(encoding="utf-8")) == origin and python.exists():
            return toolchain
    except (OSError, ValueError):
        pass
    remove_tree(folder)  # only ever inside the work dir, which srcstacks made
    uv = [sys.executable, "-m", "uv"]
    env = tool_env({"UV_PYTHON_DOWNLOADS": "never"})
    what = f"installing the build toolchain for CPython {interpreter.version}"
    venv_log = log_path.with_name(f"{log_path.stem}-venv.log")
    run_logged([*uv, "venv", "--no-project", "--python", str(interpreter.path), str(folder)],
               log_path=venv_log, what=what, env=env)  # fmt: skip
    run_logged(
        [*uv, "pip", "install", "--python", str(python), "--require-hashes", "--no-deps",
         "-r", str(requirements)],
        log_path=log_path, what=what, env=env,
    )  # fmt: skip
    site = _site_packages(python)
    shutil.copytree(
        Path(srcstacks.__file__).parent, site / "srcstacks",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )  # fmt: skip
    atomic_write_text(marker, json.dumps(origin, indent=2, sort_keys=True) + "\n")
    return toolchain


def _site_packages(python: Path) -> Path:
    output = run_probe(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    )
    return Path(output.strip())


def _package_digest() -> str:
    """sha256 over srcstacks' own source files: a changed srcstacks remakes the copy."""
    digest = hashlib.sha256()
    root = Path(srcstacks.__file__).parent
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()
