"""The private index's settings: [tool.srcstacks.index], --index, --no-index, URL forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.errors import ConfigError, StateError
from srcstacks.index.private import (
    IndexLocation,
)
from srcstacks.index.target import index_target, locked_index_url
from srcstacks.layout import Layout
from srcstacks.spec.config import IndexSettings, Overrides, load_config
from srcstacks.web import Credentials
from tests.test_config import SPEC, write


def config_with(
    tmp_path: Path, table: str, overrides: Overrides | None = None
) -> IndexSettings | None:
    spec = write(tmp_path, SPEC + "\n[tool.srcstacks.index]\n" + table)
    return load_config(spec, overrides).index


def test_no_table_means_the_wheel_dir_alone(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, SPEC)).index is None


def test_url_and_managed(tmp_path: Path) -> None:
    assert config_with(tmp_path, 'url = "http://h:1/u/i/"\n') == IndexSettings(
        url="http://h:1/u/i/"
    )
    managed = config_with(tmp_path, "managed = true\nport = 4000\n")
    assert managed == IndexSettings(managed=True, port=4000)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('url = "http://h/u/i/"\nmanaged = true\n', "sets both 'url' and 'managed = true'"),
        ("port = 1\n", "needs 'url' or 'managed = true'"),
        ('url = "http://h/u/i/"\nport = 4000\n', "'tool.srcstacks.index.port' is for 'managed"),
        ('url = "http://h/u/i/"\npassword = "x"\n', "credentials never go in the spec"),
        ('url = "http://h/u/i/"\nuser = "x"\n', "SRCSTACKS_INDEX_USER"),
        ('url = "http://me:pw@h/u/i/"\n', "credentials never go in the URL"),
        ('url = "ftp://h/u/i/"\n', "must be an http:// or https:// URL"),
        ('url = "http://h/u/i/?x=1"\n', "no query or fragment"),
        ("managed = true\nport = 70000\n", "'tool.srcstacks.index.port' must be a port number"),
        ('managed = "yes"\n', "'tool.srcstacks.index.managed' must be true or false"),
        ('url = "http://h/u/i/"\nbases = []\n', "unknown key 'tool.srcstacks.index.bases'"),
    ],
)
def test_bad_index_tables_are_refused(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        config_with(tmp_path, table)


def test_command_line_wins(tmp_path: Path) -> None:
    spec = write(tmp_path, SPEC + '\n[tool.srcstacks.index]\nurl = "http://h/u/i/"\n')
    assert load_config(spec, Overrides(no_index=True)).index is None
    chosen = load_config(spec, Overrides(index_url="https://other/x/y/+simple/")).index
    assert chosen == IndexSettings(url="https://other/x/y/+simple/")
    with pytest.raises(ConfigError, match="--index: credentials never go in the URL"):
        load_config(spec, Overrides(index_url="https://u:p@other/x/y/"))


@pytest.mark.parametrize(
    ("url", "base", "simple"),
    [
        ("http://h:3141/u/i", "http://h:3141/u/i/", "http://h:3141/u/i/+simple/"),
        ("http://h:3141/u/i/+simple/", "http://h:3141/u/i/", "http://h:3141/u/i/+simple/"),
        ("https://a/api/pypi/r/simple", "https://a/api/pypi/r/", "https://a/api/pypi/r/simple/"),
    ],
)
def test_an_index_is_named_by_its_base_or_its_simple_url(url: str, base: str, simple: str) -> None:
    location = IndexLocation.parse(url)
    assert (location.base_url, location.simple_url) == (base, simple)
    assert location.project_url("Jinja2") == simple + "jinja2/"


def test_credentials_come_from_the_environment_and_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write(tmp_path, SPEC + '\n[tool.srcstacks.index]\nurl = "http://h/u/i/"\n')
    monkeypatch.delenv("SRCSTACKS_INDEX_USER", raising=False)
    monkeypatch.delenv("SRCSTACKS_INDEX_PASSWORD", raising=False)
    target = index_target(load_config(spec))
    assert target is not None and target.credentials is None
    monkeypatch.setenv("SRCSTACKS_INDEX_USER", "ci")
    monkeypatch.setenv("SRCSTACKS_INDEX_PASSWORD", "s3cret-value")
    target = index_target(load_config(spec))
    assert target is not None and target.credentials == Credentials("ci", "s3cret-value")
    assert "s3cret-value" not in repr(target)


def test_a_managed_index_is_one_index_per_variant_on_loopback(tmp_path: Path) -> None:
    spec = write(tmp_path, SPEC + "\n[tool.srcstacks.index]\nmanaged = true\nport = 4100\n")
    target = index_target(load_config(spec, Overrides(variant="gpu")))
    assert target is not None and target.credentials is None  # before its first start
    assert target.location.simple_url == "http://127.0.0.1:4100/srcstacks/gpu/+simple/"


def test_a_managed_index_runs_where_its_state_says_it_does(tmp_path: Path) -> None:
    spec = write(tmp_path, SPEC + "\n[tool.srcstacks.index]\nmanaged = true\n")
    config = load_config(spec)
    with pytest.raises(StateError, match="the managed index has not run yet"):
        index_target(config)
    state_dir = Layout.of(config).index_state
    state_dir.mkdir(parents=True)
    (state_dir / "port").write_text("39170\n")  # as the running server recorded it
    target = index_target(config)
    assert target is not None
    assert target.location.simple_url == "http://127.0.0.1:39170/srcstacks/cpu/+simple/"
    # --index-port (or the spec's port) is where the next start listens; the running
    # server's record still says where it is now.
    moved = load_config(spec, Overrides(index_port=4000))
    assert moved.index == IndexSettings(managed=True, port=4000)
    target = index_target(moved)
    assert target is not None and ":39170/" in target.location.base_url


def test_index_port_is_for_a_managed_index_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--index-port is for a managed index, and this"):
        load_config(write(tmp_path, SPEC), Overrides(index_port=4000))
    with pytest.raises(ConfigError, match="not one given by --index"):
        load_config(write(tmp_path, SPEC), Overrides(index_url="http://h/u/i/", index_port=4000))


@pytest.mark.parametrize(
    ("table", "locked"),
    [
        ("managed = true\n", "https://private-index.invalid/+simple/"),
        ("managed = true\nport = 4000\n", "https://private-index.invalid/+simple/"),
        ('url = "http://team:3141/u/i/"\n', "https://private-index.invalid/+simple/"),
        ('url = "https://a/api/pypi/r/simple/"\n', "https://private-index.invalid/simple/"),
    ],
)
def test_locks_name_the_index_by_no_host_and_no_port(
    tmp_path: Path, table: str, locked: str
) -> None:
    spec = write(tmp_path, SPEC + "\n[tool.srcstacks.index]\n" + table)
    assert locked_index_url(load_config(spec)) == locked
    assert locked_index_url(load_config(spec, Overrides(no_index=True))) is None
