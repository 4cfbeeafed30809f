"""``source = "build"``: the runtime table's checks, and CPython's source tarball fetched,
checked and unpacked (tiny fake tarballs, a real HTTP server on 127.0.0.1; no compile)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from srcstacks.errors import ConfigError, RuntimeSourceError, SourceIntegrityError
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.runtime.source import Tarball, obtain_tarball, unpack
from srcstacks.spec.config import Overrides, load_config
from srcstacks.spec.runtime import RuntimeSource
from tests.conftest import run_cli
from tests.test_cli_errors import error_line

SPEC = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11.2"
requirements = []

[[applications]]
name = "app"
launch_module = "app.py"
runtime = "rt"
requirements = []
"""
SHA = "ab" * 32
PATCHLEVEL = b'#define PY_MAJOR_VERSION 3\n#define PY_VERSION "3.11.2"\n'
CPYTHON_FILES = {
    "Python-3.11.2/configure": b"#!/bin/sh\n",
    "Python-3.11.2/Include/patchlevel.h": PATCHLEVEL,
}


def write_spec(tmp_path: Path, runtime: str) -> Path:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(SPEC + "\n[tool.srcstacks.runtime]\n" + runtime)
    return spec


def make_tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if name.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info, io.BytesIO(data))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tarball_of(path: Path) -> Tarball:
    return Tarball(path, path.name, sha256_of(path))


# --- the runtime table --------------------------------------------------------------


TWO_RUNTIMES = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11.2"
requirements = []

[[runtimes]]
name = "rt2"
python_implementation = "cpython@3.12.1"
requirements = []

[tool.srcstacks.runtime]
source = "pack"
"""


def test_a_runtime_layers_own_table_wins_over_the_shared_keys_for_it_alone(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(
        TWO_RUNTIMES + '\n[tool.srcstacks.runtime."rt2"]\n'
        f'source = "build"\ntarball = "Python-3.12.1.tgz"\nsha256 = "{SHA}"\n'
    )
    config = load_config(spec)
    first, second = config.runtime_sources
    assert (first[0].name, first[1].kind) == ("rt", "pack")
    assert (second[0].name, second[1].kind) == ("rt2", "build")
    assert second[1].tarball_path == tmp_path / "Python-3.12.1.tgz"
    # Command-line options are for every runtime: they win over a layer's own table.
    forced = load_config(spec, Overrides(runtime_source="pack"))
    assert {source.kind for _, source in forced.runtime_sources} == {"pack"}


def test_a_runtime_layers_own_table_is_checked_and_named(tmp_path: Path) -> None:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(TWO_RUNTIMES + '\n[tool.srcstacks.runtime."rt2"]\nsource = "build"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(spec)
    assert str(caught.value).startswith(
        f"{spec}: [tool.srcstacks.runtime.\"rt2\"]: source 'build' needs 'tarball'"
    )
    spec.write_text(TWO_RUNTIMES + '\n[tool.srcstacks.runtime."rt2"]\nbogus = 1\n')
    with pytest.raises(
        ConfigError, match=r"unknown key 'tool\.srcstacks\.runtime\.\"rt2\"\.bogus'"
    ):
        load_config(spec)
    # A table named after no runtime layer is an unknown key of the shared table.
    spec.write_text(TWO_RUNTIMES + '\n[tool.srcstacks.runtime."rt3"]\nsource = "pack"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'tool\.srcstacks\.runtime\.rt3'"):
        load_config(spec)


def test_build_source_needs_a_tarball(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, f'source = "build"\nsha256 = "{SHA}"\n')
    with pytest.raises(ConfigError, match=r"source 'build' needs 'tarball'") as caught:
        load_config(spec)
    assert str(spec) in str(caught.value)
    # An empty string is no tarball either, not the spec's own folder.
    spec.write_text(spec.read_text() + 'tarball = ""\n')
    with pytest.raises(ConfigError, match=r"needs 'tarball'"):
        load_config(spec)


def test_build_source_needs_a_sha256(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, 'source = "build"\ntarball = "Python-3.11.2.tgz"\n')
    with pytest.raises(ConfigError, match=r"source 'build' needs 'sha256'"):
        load_config(spec)


@pytest.mark.parametrize("sha256", ["ab" * 31, "zz" * 32, "sha256:" + "ab" * 32, ""])
def test_sha256_must_be_64_hex_digits(tmp_path: Path, sha256: str) -> None:
    spec = write_spec(tmp_path, f'source = "build"\ntarball = "P.tgz"\nsha256 = "{sha256}"\n')
    with pytest.raises(ConfigError, match=r"'tool.srcstacks.runtime.sha256' must be 64 hex"):
        load_config(spec)


def test_uppercase_sha256_is_accepted_as_lowercase(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, f'source = "build"\ntarball = "P.tgz"\nsha256 = "{"AB" * 32}"\n')
    config = load_config(spec)
    assert config.runtime.kind == "build"
    assert config.runtime.sha256 == "ab" * 32


def test_relative_tarball_path_is_the_specs_folder(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, f'source = "build"\ntarball = "src/Python-3.11.2.tgz"\nsha256 = "{SHA}"\n'
    )
    runtime = load_config(spec).runtime
    assert runtime.tarball_path == tmp_path / "src" / "Python-3.11.2.tgz"
    assert runtime.tarball_url is None


def test_tarball_url_is_kept_as_a_url(tmp_path: Path) -> None:
    url = "https://www.python.org/ftp/python/3.11.2/Python-3.11.2.tgz"
    spec = write_spec(tmp_path, f'source = "build"\ntarball = "{url}"\nsha256 = "{SHA}"\n')
    runtime = load_config(spec).runtime
    assert (runtime.tarball_url, runtime.tarball_path) == (url, None)


def test_tarball_url_with_credentials_is_refused_without_echoing_them(tmp_path: Path) -> None:
    url = "https://user:s3cret@example.org/Python-3.11.2.tgz"
    spec = write_spec(tmp_path, f'source = "build"\ntarball = "{url}"\nsha256 = "{SHA}"\n')
    with pytest.raises(ConfigError, match=r"no credentials in the URL \(example.org\)") as caught:
        load_config(spec)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://example.org/Python-3.11.2.tgz", "https:///P.tgz"])
def test_tarball_url_must_be_http(tmp_path: Path, url: str) -> None:
    spec = write_spec(tmp_path, f'source = "build"\ntarball = "{url}"\nsha256 = "{SHA}"\n')
    with pytest.raises(ConfigError, match=r"must be an http\(s\) URL or a path"):
        load_config(spec)


def test_unknown_runtime_key_lists_the_known_ones(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, f'source = "build"\ntarbal = "P.tgz"\nsha256 = "{SHA}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(spec)
    message = str(caught.value)
    assert "unknown key 'tool.srcstacks.runtime.tarbal'" in message
    assert "known: debug_info, interpreter, mirror_url, path, sha256, source, tarball" in message


def test_runtime_source_option_selects_build(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, f'source = "pack"\ntarball = "P.tgz"\nsha256 = "{SHA}"\n')
    assert load_config(spec).runtime.kind == "pack"
    assert load_config(spec, Overrides(runtime_source="build")).runtime.kind == "build"


def test_cli_runtime_source_build_is_checked_like_the_spec(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, 'source = "pack"\n')
    result = run_cli("lock", spec, "--runtime-source", "build", check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert f"{spec}: [tool.srcstacks.runtime]: source 'build' needs 'tarball'" in line
    # Negative control: a kind that does not exist is refused by the option itself.
    result = run_cli("lock", spec, "--runtime-source", "bild", check=False)
    assert result.returncode == 1
    assert "--runtime-source must be one of download, mirror, local, pack, build" in (
        error_line(result.stderr)
    )


# --- a local tarball: checked, then unpacked ----------------------------------------


def local_source(path: Path, sha256: str) -> RuntimeSource:
    return RuntimeSource(kind="build", tarball_path=path, sha256=sha256)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    work = claim_dir(tmp_path / "work", "work dir")
    return Layout(tmp_path / "venvstacks.toml", work, "cpu", tmp_path / "w", tmp_path / "o")


def test_local_tarball_with_the_right_sha256_unpacks_to_its_version(
    tmp_path: Path, layout: Layout
) -> None:
    path = make_tarball(tmp_path / "Python-3.11.2.tgz", CPYTHON_FILES)
    tarball = obtain_tarball(local_source(path, sha256_of(path)), layout)
    assert (tarball.path, tarball.origin) == (path, "Python-3.11.2.tgz")
    tree = unpack(tarball, tmp_path / "dest")
    assert tree.version == "3.11.2"
    assert tree.root == tmp_path / "dest" / "Python-3.11.2"
    assert (tree.root / "configure").read_bytes() == b"#!/bin/sh\n"


def test_local_tarball_with_another_sha256_is_refused_before_unpacking(
    tmp_path: Path, layout: Layout
) -> None:
    path = make_tarball(tmp_path / "Python-3.11.2.tgz", CPYTHON_FILES)
    with pytest.raises(SourceIntegrityError) as caught:
        obtain_tarball(local_source(path, SHA), layout)
    message = str(caught.value)
    assert f"{path}: sha256 is {sha256_of(path)} but" in message
    assert f"sha256 says {SHA}; refused before unpacking" in message
    assert "\n" not in message
    assert not layout.runtime_sources.exists()


def test_missing_local_tarball_is_named(tmp_path: Path, layout: Layout) -> None:
    missing = tmp_path / "nowhere" / "Python-3.11.2.tgz"
    with pytest.raises(RuntimeSourceError, match="CPython source tarball not found") as caught:
        obtain_tarball(local_source(missing, SHA), layout)
    assert str(missing) in str(caught.value)


def test_leading_dot_slash_members_unpack(tmp_path: Path) -> None:
    # `tar -C dir -czf x.tgz .` writes a "./" member before the tree.
    files = {"./": b"", **{f"./{name}": data for name, data in CPYTHON_FILES.items()}}
    path = make_tarball(tmp_path / "dot.tgz", files)
    assert unpack(tarball_of(path), tmp_path / "dest").version == "3.11.2"


def test_two_top_folders_are_refused(tmp_path: Path) -> None:
    path = make_tarball(tmp_path / "two.tgz", {**CPYTHON_FILES, "other/README": b"x"})
    with pytest.raises(RuntimeSourceError, match=r"two.tgz: not a CPython source tarball"):
        unpack(tarball_of(path), tmp_path / "dest")


def test_tree_without_patchlevel_is_refused(tmp_path: Path) -> None:
    path = make_tarball(tmp_path / "notpy.tgz", {"Python-3.11.2/configure": b"#!/bin/sh\n"})
    with pytest.raises(RuntimeSourceError, match=r"notpy.tgz: not a CPython source tree"):
        unpack(tarball_of(path), tmp_path / "dest")


def test_patchlevel_without_py_version_is_refused(tmp_path: Path) -> None:
    files = {**CPYTHON_FILES, "Python-3.11.2/Include/patchlevel.h": b"#define X 1\n"}
    path = make_tarball(tmp_path / "nover.tgz", files)
    with pytest.raises(RuntimeSourceError, match=r"patchlevel.h defines no PY_VERSION"):
        unpack(tarball_of(path), tmp_path / "dest")


def test_member_leaving_the_folder_is_refused_and_nothing_written_outside(
    tmp_path: Path,
) -> None:
    files = {**CPYTHON_FILES, "Python-3.11.2/../../escaped.txt": b"x"}
    path = make_tarball(tmp_path / "evil.tgz", files)
    dest = tmp_path / "a" / "dest"
    with pytest.raises(RuntimeSourceError) as caught:
        unpack(tarball_of(path), dest)
    message = str(caught.value)
    assert message.startswith("evil.tgz: unsafe member refused")
    assert "escaped.txt" in message and "\n" not in message
    assert list(tmp_path.rglob("escaped.txt")) == []


def test_absolute_members_stay_in_the_folder(tmp_path: Path) -> None:
    files = {f"/{name}": data for name, data in CPYTHON_FILES.items()}
    path = make_tarball(tmp_path / "abs.tgz", files)
    tree = unpack(tarball_of(path), tmp_path / "dest")
    assert tree.root == tmp_path / "dest" / "Python-3.11.2"
    assert tree.version == "3.11.2"


def test_corrupt_tarball_is_one_line(tmp_path: Path) -> None:
    whole = make_tarball(tmp_path / "whole.tgz", CPYTHON_FILES).read_bytes()
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(whole[: len(whole) // 2])
    garbage = tmp_path / "garbage.tgz"
    garbage.write_bytes(b"not a tarball at all" * 10)
    for path in (cut, garbage):
        with pytest.raises(RuntimeSourceError) as caught:
            unpack(tarball_of(path), tmp_path / f"dest-{path.stem}")
        assert str(caught.value).startswith(f"{path.name}: corrupt source tarball: ")
        assert "\n" not in str(caught.value)


# --- a tarball by URL: downloaded once, kept only when its sha256 is right -----------


@dataclass
class Served:
    """What the test server serves, and every path it was asked for."""

    files: dict[str, bytes] = field(default_factory=dict)
    # Paths answered with a Content-Length larger than the bytes sent (a dropped link).
    cut: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    base: str = ""


@pytest.fixture
def served() -> Iterator[Served]:
    state = Served()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            data = state.files.get(self.path)
            if data is None:
                self.send_error(404, "File not found")
                return
            self.send_response(200)
            extra = 1000 if self.path in state.cut else 0
            self.send_header("Content-Length", str(len(data) + extra))
            self.end_headers()
            self.wfile.write(data)
            if extra:
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def url_source(url: str, sha256: str) -> RuntimeSource:
    return RuntimeSource(kind="build", tarball_url=url, sha256=sha256)


def test_download_is_checked_kept_and_reused(
    tmp_path: Path, layout: Layout, served: Served
) -> None:
    data = make_tarball(tmp_path / "Python-3.11.2.tgz", CPYTHON_FILES).read_bytes()
    served.files["/ftp/Python-3.11.2.tgz"] = data
    url = served.base + "/ftp/Python-3.11.2.tgz"
    source = url_source(url, hashlib.sha256(data).hexdigest())
    first = obtain_tarball(source, layout)
    assert first.path == layout.runtime_sources / "Python-3.11.2.tgz"
    assert first.path.read_bytes() == data
    assert (first.origin, first.filename) == (url, "Python-3.11.2.tgz")
    second = obtain_tarball(source, layout)
    assert second == first
    assert served.requests == ["/ftp/Python-3.11.2.tgz"]  # the second run asked nothing
    assert unpack(second, tmp_path / "dest").version == "3.11.2"


def test_download_with_another_sha256_is_refused_and_not_kept(
    tmp_path: Path, layout: Layout, served: Served
) -> None:
    data = make_tarball(tmp_path / "Python-3.11.2.tgz", CPYTHON_FILES).read_bytes()
    served.files["/Python-3.11.2.tgz"] = data
    url = served.base + "/Python-3.11.2.tgz"
    with pytest.raises(SourceIntegrityError) as caught:
        obtain_tarball(url_source(url, SHA), layout)
    message = str(caught.value)
    assert message.startswith(f"{url}: sha256 is {hashlib.sha256(data).hexdigest()} but")
    assert SHA in message and "refused before unpacking" in message
    assert list(layout.runtime_sources.iterdir()) == []  # no file, no .part leftover


def test_cached_file_of_another_sha256_is_downloaded_again(
    tmp_path: Path, layout: Layout, served: Served
) -> None:
    data = make_tarball(tmp_path / "Python-3.11.2.tgz", CPYTHON_FILES).read_bytes()
    served.files["/Python-3.11.2.tgz"] = data
    layout.runtime_sources.mkdir(parents=True)
    (layout.runtime_sources / "Python-3.11.2.tgz").write_bytes(b"an older download")
    tarball = obtain_tarball(
        url_source(served.base + "/Python-3.11.2.tgz", hashlib.sha256(data).hexdigest()), layout
    )
    assert tarball.path.read_bytes() == data
    assert served.requests == ["/Python-3.11.2.tgz"]


def test_http_404_is_one_line_naming_the_url(layout: Layout, served: Served) -> None:
    url = served.base + "/ftp/Python-3.11.99.tgz"
    with pytest.raises(RuntimeSourceError) as caught:
        obtain_tarball(url_source(url, SHA), layout)
    assert str(caught.value) == (
        f"{url}: cannot download CPython's source: HTTP 404 (File not found)"
    )
    assert list(layout.runtime_sources.iterdir()) == []


def test_cut_off_download_is_said_so_not_a_hash_mismatch(
    tmp_path: Path, layout: Layout, served: Served
) -> None:
    data = make_tarball(tmp_path / "Python-3.11.2.tgz", CPYTHON_FILES).read_bytes()
    served.files["/Python-3.11.2.tgz"] = data
    served.cut.add("/Python-3.11.2.tgz")
    url = served.base + "/Python-3.11.2.tgz"
    with pytest.raises(RuntimeSourceError) as caught:
        obtain_tarball(url_source(url, hashlib.sha256(data).hexdigest()), layout)
    assert str(caught.value).startswith(
        f"{url}: the download was cut off after {len(data)} of {len(data) + 1000} bytes"
    )
    assert list(layout.runtime_sources.iterdir()) == []


def test_unreachable_server_is_one_line(layout: Layout) -> None:
    url = "http://127.0.0.1:9/Python-3.11.2.tgz"  # discard port: nothing listens
    with pytest.raises(RuntimeSourceError) as caught:
        obtain_tarball(url_source(url, SHA), layout)
    assert str(caught.value).startswith(f"{url}: cannot download CPython's source: ")
    assert "\n" not in str(caught.value)


def test_url_naming_no_file_is_refused(layout: Layout) -> None:
    with pytest.raises(RuntimeSourceError, match="the tarball URL names no file"):
        obtain_tarball(url_source("https://example.org/", SHA), layout)


def test_debug_info_is_stripped_unless_the_spec_keeps_it(tmp_path: Path) -> None:
    assert not load_config(write_spec(tmp_path, 'source = "pack"\n')).runtime.keep_debug_info
    kept = write_spec(tmp_path, 'source = "pack"\ndebug_info = "keep"\n')
    assert load_config(kept).runtime.keep_debug_info
    wrong = write_spec(tmp_path, 'source = "pack"\ndebug_info = "yes"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(wrong)
    assert str(caught.value) == (
        f"{wrong}: 'tool.srcstacks.runtime.debug_info' must be 'strip' or 'keep', not 'yes'"
    )
