"""Building CPython from source, without compiling it: ``build-settings/cpython.yaml``,
the configure options srcstacks owns, the build folder scrubbed from installed files,
the cache key, and the system tools asked (the C preprocessor, GNU patch, dpkg)."""

from __future__ import annotations

import ast
import dataclasses
import pprint
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fromager.packagesettings import PackageSettings, Variant

from srcstacks.errors import ConfigError, PatchFailedError, RuntimeBuildError
from srcstacks.runtime.build import _check_configure_args, _Inputs, runtime_build_inputs
from srcstacks.runtime.built_cpython import remove_build_paths, rewritten_sysconfigdata
from srcstacks.runtime.source import Tarball
from srcstacks.spec.config import load_config
from srcstacks.spec.settings import CPythonSettings, read_cpython_settings
from srcstacks.state.records import PatchRecord
from srcstacks.tools import system_packages
from srcstacks.tools.cpython_build import Header, apply_patch, missing_headers
from tests.test_runtime_source import SHA, write_spec

# --- build-settings/cpython.yaml -----------------------------------------------------

CPYTHON_YAML = """\
env:
  CFLAGS: "-O2 -g0"
  LDFLAGS: "-Wl,-O1"
config_settings:
  configure:
    - "--with-lto"
    - "--with-computed-gotos"
variants:
  hardened:
    env:
      CFLAGS: "${CFLAGS} -fstack-protector-strong"
    annotations:
      srcstacks.configure: "--with-assertions 'LIBS=-lm -lz'"
"""


def settings_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "build-settings"
    folder.mkdir(exist_ok=True)
    (folder / "cpython.yaml").write_text(text)
    return folder


def test_no_cpython_yaml_means_no_options(tmp_path: Path) -> None:
    assert read_cpython_settings(tmp_path / "build-settings", "cpu") == CPythonSettings(None)


def test_variant_annotation_is_appended_to_the_base_options(tmp_path: Path) -> None:
    folder = settings_dir(tmp_path, CPYTHON_YAML)
    hardened = read_cpython_settings(folder, "hardened")
    assert hardened.path == folder / "cpython.yaml"
    assert hardened.configure_args == (
        "--with-lto",
        "--with-computed-gotos",
        "--with-assertions",
        "LIBS=-lm -lz",  # shell quoting kept: one argument
    )
    assert hardened.env == {"CFLAGS": "-O2 -g0 -fstack-protector-strong", "LDFLAGS": "-Wl,-O1"}
    plain = read_cpython_settings(folder, "cpu")
    assert plain.configure_args == ("--with-lto", "--with-computed-gotos")
    assert plain.env == {"CFLAGS": "-O2 -g0", "LDFLAGS": "-Wl,-O1"}


def test_configure_as_one_string_is_split_like_a_shell(tmp_path: Path) -> None:
    folder = settings_dir(tmp_path, "config_settings:\n  configure: \"--with-lto 'X=a b'\"\n")
    assert read_cpython_settings(folder, "cpu").configure_args == ("--with-lto", "X=a b")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("config_settings:\n  configure: {lto: true}\n", "'config_settings.configure'"),
        ("config_settings:\n  configure: [1, 2]\n", "'config_settings.configure'"),
        ("config_settings: [--with-lto]\n", "'config_settings' must be a mapping"),
        ("variants: [hardened]\n", "'variants' must be a mapping"),
        ("variants:\n  cpu: [x]\n", "'variants.cpu' must be a mapping"),
        ("variants:\n  cpu:\n    annotations: x\n", "'variants.cpu.annotations' must be"),
        (
            'variants:\n  cpu:\n    annotations:\n      srcstacks.configure: "\'open"\n',
            "'variants.cpu.annotations.srcstacks.configure': No closing quotation",
        ),
    ],
)
def test_malformed_cpython_yaml_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    folder = settings_dir(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        read_cpython_settings(folder, "cpu")
    assert str(caught.value).startswith(f"{folder / 'cpython.yaml'}: ")
    assert key in str(caught.value)


def test_fromager_accepts_the_cpython_yaml_schema() -> None:
    # Fromager reads every file of the settings folder, cpython.yaml too.
    settings = PackageSettings.from_string("cpython", CPYTHON_YAML)
    assert settings.config_settings["configure"] == ["--with-lto", "--with-computed-gotos"]
    annotations = settings.variants[Variant("hardened")].annotations
    assert annotations is not None and "srcstacks.configure" in annotations
    # Negative control: a key outside Fromager's schema is refused by it.
    with pytest.raises(RuntimeError, match="configure"):
        PackageSettings.from_string("cpython", "configure: [--with-lto]\n")


# --- configure options srcstacks sets itself -----------------------------------------


@pytest.mark.parametrize(
    "arg",
    [
        "--prefix=/x",
        "--enable-shared",
        "--disable-shared",
        "--without-ensurepip",
        "--with-platlibdir=lib64",
        "--pre=/x",  # autoconf reads abbreviations of its directory options
        "-prefix=/x",
        "--exec_prefix=/x",
        "--libdir=/x",
        "--enable_shared",
    ],
)
def test_owned_configure_option_is_refused(tmp_path: Path, arg: str) -> None:
    path = tmp_path / "cpython.yaml"
    with pytest.raises(ConfigError) as caught:
        _check_configure_args(CPythonSettings(path, ("--with-lto", arg)))
    assert str(caught.value).startswith(f"{path}: configure option {arg!r} is set by srcstacks")


@pytest.mark.parametrize(
    "arg",
    ["--with-lto", "--enable-optimizations", "--with-pydebug", "CFLAGS=-O2", "--program-suffix=3"],
)
def test_other_configure_options_are_accepted(tmp_path: Path, arg: str) -> None:
    _check_configure_args(CPythonSettings(tmp_path / "cpython.yaml", (arg,)))


# --- the build folder, scrubbed from the installed files ----------------------------

MAPPED = "/build/Python-3.11.2"
SHORT_TREE = "/w/b/Python-3.11.2"
LONG_TREE = (
    "/home/someone/projects/stack/_srcstacks/runtime-build/0123456789abcdef/src/Python-3.11.2"
)


def sysconfigdata(tree: str) -> bytes:
    """A sysconfig record as CPython writes it (pprint of the build's variables)."""
    values = {
        "ABIFLAGS": "",
        "Py_ENABLE_SHARED": 1,
        "CONFIG_ARGS": "'--prefix=/install' '--enable-shared' '--without-ensurepip' "
        "'--with-lto' 'CFLAGS=-O2 -g0 -fstack-protector-strong'",
        "TESTRUNNER": f"LD_LIBRARY_PATH={tree} ./python -E ./Tools/scripts/run_tests.py",
        "abs_builddir": tree,
        "srcdir": tree,
        "CFLAGS": f"-O2 -ffile-prefix-map={tree}=/build/Python-3.11.2 -I{tree}/Include "
        f"-I{tree}/Include/internal -fstack-protector-strong -Wall",
    }
    return (
        "# system configuration generated and used by the sysconfig module\n"
        f"build_time_vars = {pprint.pformat(values)}\n"
    ).encode()


def test_sysconfigdata_from_folders_of_other_lengths_comes_out_identical() -> None:
    short, long = sysconfigdata(SHORT_TREE), sysconfigdata(LONG_TREE)
    # Negative control: plain replacement leaves pprint's length-dependent line breaks.
    assert short.replace(SHORT_TREE.encode(), MAPPED.encode()) != long.replace(
        LONG_TREE.encode(), MAPPED.encode()
    )
    from_short = rewritten_sysconfigdata(short, SHORT_TREE, MAPPED)
    from_long = rewritten_sysconfigdata(long, LONG_TREE, MAPPED)
    assert from_short == from_long
    assert SHORT_TREE not in from_short and LONG_TREE not in from_long
    values = ast.literal_eval(from_short.partition("build_time_vars = ")[2])
    assert values["abs_builddir"] == MAPPED
    assert (
        values["TESTRUNNER"] == f"LD_LIBRARY_PATH={MAPPED} ./python -E ./Tools/scripts/run_tests.py"
    )
    assert values["Py_ENABLE_SHARED"] == 1


def test_sysconfigdata_without_build_time_vars_is_refused() -> None:
    with pytest.raises(RuntimeBuildError, match="no build_time_vars"):
        rewritten_sysconfigdata(b"something = {}\n", SHORT_TREE, MAPPED)


def installed_tree(root: Path, tree: str) -> Path:
    """A small installation whose text records and left-out files name ``tree``."""
    installed = root / "install"
    lib = installed / "lib" / "python3.11"
    (lib / "__pycache__").mkdir(parents=True)
    (lib / "config-3.11-x86_64-linux-gnu").mkdir()
    (installed / "lib" / "pkgconfig").mkdir()
    (lib / "_sysconfigdata__linux_x86_64-linux-gnu.py").write_bytes(sysconfigdata(tree))
    (lib / "config-3.11-x86_64-linux-gnu" / "Makefile").write_text(f"srcdir=\t{tree}\n")
    (installed / "lib" / "pkgconfig" / "python-3.11.pc").write_text(f"# built in {tree}\n")
    (lib / "os.py").write_text("# no build folder here\n")
    (lib / "__pycache__" / "os.cpython-311.pyc").write_bytes(b"\0\0" + tree.encode())
    (lib / "config-3.11-x86_64-linux-gnu" / "libpython3.11.a").write_bytes(b"\0" + tree.encode())
    return installed


def test_text_records_are_rewritten_and_left_out_files_ignored(tmp_path: Path) -> None:
    installed = installed_tree(tmp_path, LONG_TREE)
    lib = installed / "lib" / "python3.11"
    pyc = (lib / "__pycache__" / "os.cpython-311.pyc").read_bytes()
    remove_build_paths(installed, Path(LONG_TREE), MAPPED)
    assert (lib / "config-3.11-x86_64-linux-gnu" / "Makefile").read_text() == f"srcdir=\t{MAPPED}\n"
    pc = (installed / "lib" / "pkgconfig" / "python-3.11.pc").read_text()
    assert pc == f"# built in {MAPPED}\n"
    sysconfig = (lib / "_sysconfigdata__linux_x86_64-linux-gnu.py").read_text()
    assert sysconfig == rewritten_sysconfigdata(sysconfigdata(SHORT_TREE), SHORT_TREE, MAPPED)
    assert (lib / "os.py").read_text() == "# no build folder here\n"
    # Bytecode and static libraries are not in the archive: neither refused nor touched.
    assert (lib / "__pycache__" / "os.cpython-311.pyc").read_bytes() == pyc


def test_binary_naming_the_build_folder_is_refused_by_name(tmp_path: Path) -> None:
    installed = installed_tree(tmp_path, LONG_TREE)
    (installed / "bin").mkdir()
    (installed / "bin" / "python3.11").write_bytes(b"\x7fELF\0" + LONG_TREE.encode() + b"\0")
    with pytest.raises(RuntimeBuildError) as caught:
        remove_build_paths(installed, Path(LONG_TREE), MAPPED)
    message = str(caught.value)
    assert message.startswith(f"bin/python3.11: the built file names the build folder {LONG_TREE}")
    assert "build-settings/cpython.yaml" in message


# --- which stacks build CPython, and the cache key ------------------------------------


def test_runtime_build_inputs_name_cpython_only_for_build_stacks(tmp_path: Path) -> None:
    built = write_spec(tmp_path, f'source = "build"\ntarball = "P.tgz"\nsha256 = "{SHA}"\n')
    assert runtime_build_inputs(load_config(built)) == {("cpython", "3.11.2")}
    packed = write_spec(tmp_path, 'source = "pack"\n')
    assert runtime_build_inputs(load_config(packed)) == set()


def base_inputs(tmp_path: Path) -> _Inputs:
    return _Inputs(
        tarball=Tarball(tmp_path / "Python-3.11.2.tgz", "Python-3.11.2.tgz", "aa" * 32),
        version="3.11.2",
        patches=(tmp_path / "patches" / "cpython" / "0001-fix.patch",),
        patch_records=(PatchRecord("cpython/0001-fix.patch", "bb" * 32),),
        settings=CPythonSettings(tmp_path / "cpython.yaml", ("--with-lto",), {"CFLAGS": "-O2"}),
        configure_args=("--prefix=/install", "--with-lto"),
        compiler="gcc (Debian 12.2.0-14) 12.2.0",
        source_date_epoch="315532800",
        missing_optional=(),
        keep_debug_info=False,
    )


def test_cache_key_follows_every_input_and_nothing_else(tmp_path: Path) -> None:
    inputs = base_inputs(tmp_path)
    settings = inputs.settings
    changed: dict[str, Any] = {
        "tarball": dataclasses.replace(inputs.tarball, sha256="cc" * 32),
        "patch": (PatchRecord("cpython/0001-fix.patch", "dd" * 32),),
        "patch added": (*inputs.patch_records, PatchRecord("cpython/0002-more.patch", "ee" * 32)),
        "configure": ("--prefix=/install", "--with-lto", "--enable-optimizations"),
        "env": dataclasses.replace(settings, env={"CFLAGS": "-O3"}),
        "compiler": "gcc (Debian 12.2.0-15) 12.2.0",
        "epoch": "315532801",
        "missing": (Header("gdbm.h", "dbm.gnu", "libgdbm-dev"),),
        "debug info": True,
    }
    fields = {
        "tarball": "tarball",
        "patch": "patch_records",
        "patch added": "patch_records",
        "configure": "configure_args",
        "env": "settings",
        "compiler": "compiler",
        "epoch": "source_date_epoch",
        "missing": "missing_optional",
        "debug info": "keep_debug_info",
    }
    keys = {inputs.key}
    for name, value in changed.items():
        key = dataclasses.replace(inputs, **{fields[name]: value}).key
        assert key not in keys, name
        keys.add(key)
    # Where the same tarball, patch and settings file lie does not change what is built.
    moved = dataclasses.replace(
        inputs,
        tarball=Tarball(tmp_path / "else" / "x.tgz", "https://example.org/x.tgz", "aa" * 32),
        patches=(tmp_path / "elsewhere" / "0001-fix.patch",),
        settings=dataclasses.replace(settings, path=tmp_path / "other" / "cpython.yaml"),
    )
    assert moved.key == inputs.key
    assert base_inputs(tmp_path).key == inputs.key


# --- the tools asked: the C preprocessor, GNU patch, dpkg -----------------------------


def test_missing_headers_finds_real_ones_and_names_the_missing() -> None:
    made_up = Header("srcstacks-no-such.h", "x", "pkg")
    stdio = Header("stdio.h", "stdio", "libc6-dev")
    assert missing_headers([stdio, made_up], {}) == [made_up]


def test_missing_compiler_is_a_build_error_naming_it() -> None:
    with pytest.raises(RuntimeBuildError, match=r"no working C compiler 'srcstacks-no-cc'"):
        missing_headers([Header("stdio.h", "stdio", "libc6-dev")], {"CC": "srcstacks-no-cc"})


PATCH = """\
--- a/Lib/greeting.py
+++ b/Lib/greeting.py
@@ -1 +1 @@
-GREETING = "hello"
+GREETING = "hello, patched"
"""


def source_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "Python-3.11.2"
    (tree / "Lib").mkdir(parents=True)
    (tree / "Lib" / "greeting.py").write_text('GREETING = "hello"\n')
    return tree


def test_patch_that_applies_changes_the_tree(tmp_path: Path) -> None:
    tree = source_tree(tmp_path)
    patch = tmp_path / "0001-greet.patch"
    patch.write_text(PATCH)
    log = tmp_path / "logs" / "cpython-patch.log"
    apply_patch(tree, patch, "cpython/0001-greet.patch", log)
    assert (tree / "Lib" / "greeting.py").read_text() == 'GREETING = "hello, patched"\n'
    assert log.is_file()


def test_patch_that_does_not_apply_names_patch_and_log(tmp_path: Path) -> None:
    tree = source_tree(tmp_path)
    (tree / "Lib" / "greeting.py").write_text('GREETING = "bonjour"\n')
    patch = tmp_path / "0001-greet.patch"
    patch.write_text(PATCH)
    log = tmp_path / "logs" / "cpython-patch.log"
    with pytest.raises(PatchFailedError) as caught:
        apply_patch(tree, patch, "cpython/0001-greet.patch", log)
    message = str(caught.value)
    assert message.startswith("patch cpython/0001-greet.patch does not apply to CPython's source")
    assert message.endswith(f"(log: {log})")
    assert "\n" not in message
    assert "FAILED" in log.read_text()
    assert (tree / "Lib" / "greeting.py").read_text() == 'GREETING = "bonjour"\n'


def test_package_of_libc_names_its_package_when_dpkg_can_say() -> None:
    path = system_packages.library_paths()["libc.so.6"]
    package = system_packages.package_of(path)
    if shutil.which("dpkg-query") is None and shutil.which("rpm") is None:
        assert package is None
        return
    assert package is not None
    if shutil.which("dpkg-query"):
        assert (package.name, package.manager) == ("libc6", "deb")
        assert package.version[0].isdigit() and ":" not in package.name
    else:
        assert package.manager == "rpm" and package.name == "glibc"
    assert system_packages.package_of("/srcstacks/no/such/libx.so.1") is None


def test_multiarch_owner_is_asked_for_its_own_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """With libc6:amd64 and libc6:i386 both installed, ``dpkg-query -W libc6`` prints
    both versions; the owner is asked with its architecture, as ``-S`` names it, and a
    "diversion by" line of ``-S`` names no owner."""
    asked: list[list[str]] = []

    def dpkg(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        asked.append(command)
        if command[1] == "-S":
            text = (
                "diversion by libc6 from: /lib/x86_64-linux-gnu/libc.so.6\n"
                "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6\n"
            )
        else:
            text = {
                "libc6": "libc6:amd64\tlibc6\t2.36-9\tamd64\t\nlibc6:i386\tlibc6\t2.36-8\ti386\t\n",
                "libc6:amd64": "libc6:amd64\tlibc6\t2.36-9\tamd64\t\n",
            }[command[-1]]
        return subprocess.CompletedProcess(command, 0, text, "")

    monkeypatch.setattr(
        "srcstacks.tools.system_packages.shutil.which", lambda name: f"/usr/bin/{name}"
    )
    monkeypatch.setattr(system_packages, "run_captured", dpkg)
    system_packages.forget_known_packages()
    try:
        package = system_packages.package_of("/lib/x86_64-linux-gnu/libc.so.6")
    finally:
        system_packages.forget_known_packages()  # the next test asks this machine's dpkg
    assert package == system_packages.Package("libc6", "2.36-9", "deb", "amd64")
    assert asked[-1] == [
        "dpkg-query",
        "-W",
        "-f=${binary:Package}\t${Package}\t${Version}\t${Architecture}\t${Maintainer}\n",
        "libc6:amd64",
    ]
