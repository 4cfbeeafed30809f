"""The third-party code inside a CPython, read from the interpreter (no stack build).

The interpreter running the tests is the fixture: what it reports about itself (and the
ELF links of its extension modules) is what :func:`bundled_code` must find.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from srcstacks.runtime.contents import bundled_code
from srcstacks.state.elf import read_links
from srcstacks.state.records import BundledLibrary, RuntimeRecord

INTERPRETER = Path(sys.executable)


def module_file(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    origin = spec.origin if spec is not None else None
    return Path(origin) if origin and origin != "built-in" else None


def loads(module: str, prefix: str) -> bool:
    path = module_file(module)
    links = read_links(path.read_bytes(), path.name) if path is not None else None
    return links is not None and any(need.startswith(prefix) for need in links.needs)


def test_versions_are_the_interpreters_own() -> None:
    import _decimal
    import pyexpat

    found = {library.name: library for library in bundled_code(INTERPRETER)}
    if not loads("pyexpat", "libexpat.so"):
        expat = found["expat"]
        assert expat.version == pyexpat.EXPAT_VERSION.removeprefix("expat_")
        assert (expat.module, expat.where, expat.license) == ("pyexpat", "Modules/expat", "MIT")
        path = module_file("pyexpat")
        if path is not None:  # carried by the module file: named and hashed as it
            assert expat.filename == path.name
            assert expat.sha512 == hashlib.sha512(path.read_bytes()).hexdigest()
            assert expat.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert expat.supplier == "libexpat project"
    if not loads("_decimal", "libmpdec.so"):
        assert found["mpdecimal"].version == _decimal.__libmpdec_version__


@pytest.mark.parametrize(
    ("name", "module", "soname"),
    [
        ("sqlite", "_sqlite3", "libsqlite3.so"),
        ("zlib", "zlib", "libz.so"),
        ("openssl", "_ssl", "libssl.so"),
        ("expat", "pyexpat", "libexpat.so"),
    ],
)
def test_a_library_loaded_from_the_system_is_not_listed_as_inside(
    name: str, module: str, soname: str
) -> None:
    """Listed when the module carries it, left out when it loads it from the system
    (it is then a system library); either way the answer follows the ELF links."""
    found = {library.name for library in bundled_code(INTERPRETER)}
    if module_file(module) is None and importlib.util.find_spec(module) is None:
        assert name not in found
        return
    assert (name in found) == (not loads(module, soname)), (name, found)


def test_this_machines_python_has_both_kinds() -> None:
    """The tests' interpreter (pyenv's 3.11, as in CI) compiles expat and libmpdec in and
    loads OpenSSL from the system: one case of each, so neither branch goes untested."""
    found = {library.name for library in bundled_code(INTERPRETER)}
    assert {"expat", "mpdecimal"} <= found
    assert "openssl" not in found and loads("_ssl", "libssl.so")


def test_an_interpreter_that_does_not_run_is_an_error(tmp_path: Path) -> None:
    broken = tmp_path / "python3"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(Exception, match="exit status 3"):
        bundled_code(broken)


def test_runtime_record_keeps_sha512_and_bundled_code_and_reads_older_records() -> None:
    library = BundledLibrary(
        "expat", "2.5.0", "MIT", "Modules/expat", "pyexpat", "pyexpat.so", "a" * 64, "b" * 128,
        "libexpat project", "https://libexpat.github.io",
    )  # fmt: skip
    record = RuntimeRecord(
        "cpython-3.11", "cpython@3.11.7", "pack", "x.tar.gz", "x.tar.gz", "c" * 64,
        sha512="d" * 128, bundled=(library,), debug_info="stripped",
        configure_args="'--prefix=<prefix>' '--enable-shared'", compiler="GCC 12.2.0",
    )  # fmt: skip
    data = json.loads(json.dumps(record.to_json()))
    assert RuntimeRecord.from_json(data) == record
    # A record written before srcstacks recorded them still reads, without them.
    older = {
        key: value
        for key, value in data.items()
        if key not in ("sha512", "bundled", "debug_info", "configure_args", "compiler")
    }
    assert RuntimeRecord.from_json(older) == RuntimeRecord(
        "cpython-3.11", "cpython@3.11.7", "pack", "x.tar.gz", "x.tar.gz", "c" * 64
    )
    # And a bundled entry of an older built runtime's record, without file or supplier.
    short = {
        key: data["bundled"][0][key] for key in ("name", "version", "license", "where", "module")
    }
    assert BundledLibrary.from_json(short) == BundledLibrary(
        "expat", "2.5.0", "MIT", "Modules/expat", "pyexpat"
    )


def test_a_seeded_runtime_that_cannot_be_asked_is_one_error_naming_it(tmp_path: Path) -> None:
    from srcstacks.errors import RuntimeSourceError
    from srcstacks.runtime.prepare import _bundled_in
    from srcstacks.spec.layers import Layer

    prefix = tmp_path / "cpython@3.11.7"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python3").write_text("#!/bin/sh\nexit 3\n")
    (prefix / "bin" / "python3").chmod(0o755)
    layer = Layer("runtime", "cpython-3.11", (), python_implementation="cpython@3.11.7")
    with pytest.raises(RuntimeSourceError) as raised:
        _bundled_in(prefix, layer)
    assert str(raised.value).startswith(
        f"{prefix}: cannot ask the runtime of layer 'cpython-3.11' what it carries:"
    )
