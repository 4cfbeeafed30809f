"""Selective mode's plan and fetch (build/selective.py), on a resolution given here:
the upstream index and uv are replaced by fixed listings (the e2e test uses PyPI)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from srcstacks.build import selective
from srcstacks.build.missing import Discovery, discover
from srcstacks.errors import ConfigError, DownloadError
from srcstacks.index.client import (
    IndexReadError,
)
from srcstacks.layout import Layout
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.state.provenance import Manifest, UpstreamRecord, WheelProvenance
from srcstacks.state.wheel_availability import Gap
from srcstacks.verify.upstream import upstream_problems
from srcstacks.web import PageFile

SPEC = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11.7"
requirements = []
platforms = ["linux_x86_64", "win_amd64"]

[[frameworks]]
name = "fw"
runtime = "rt"
requirements = ["docopt", "idna", "markupsafe", "six"]

[tool.srcstacks]
mode = "selective"
"""
INDEX = "https://pypi.test/simple/"
FILES = {
    "idna": ["idna-3.11-py3-none-any.whl", "idna-3.11.tar.gz"],
    "markupsafe": [
        "markupsafe-3.0.3-cp311-cp311-manylinux_2_17_x86_64.whl",
        "markupsafe-3.0.3-cp311-cp311-win_amd64.whl",
    ],
    "six": ["six-1.17.0-py2.py3-none-any.whl"],
    "docopt": ["docopt-0.6.2.tar.gz"],
}
PINS = ("docopt==0.6.2", "idna==3.11", "markupsafe==3.0.3", "six==1.17.0")


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A fixed resolution and index; returns the URLs downloaded, in order."""
    discovery = Discovery(
        platforms={"cpython-3.11": ("linux_x86_64", "win_amd64")},
        gaps=[
            Gap("framework-fw", p, "docopt", "0.6.2", "sdist only")
            for p in ("linux_x86_64", "win_amd64")
        ],
        index_url=INDEX,
        resolved={("framework-fw", "linux_x86_64"): PINS, ("framework-fw", "win_amd64"): PINS},
    )
    monkeypatch.setattr(selective, "discover", lambda config, report, pinned=None: discovery)
    monkeypatch.setattr(selective, "build_platform", lambda: "linux_x86_64")

    def files(index_url: str, project: str) -> dict[str, PageFile]:
        return {
            name: PageFile(name, f"https://files.test/{name}", _sha(name))
            for name in FILES[project]
        }

    downloads: list[str] = []

    def download(item: PageFile, target: Path) -> None:
        downloads.append(item.url)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.filename.encode())

    monkeypatch.setattr(selective, "published_files", files)
    monkeypatch.setattr("srcstacks.verify.upstream.published_files", files)
    monkeypatch.setattr(selective, "download_checked", download)
    return downloads


def unreachable(url: str, project: str) -> dict[str, PageFile]:
    raise IndexReadError("cannot read https://pypi.test/simple/idna/: timed out")


def _sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _config(tmp_path: Path, extra: str = "") -> StackConfig:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(SPEC + extra)
    return load_config(spec)


def test_only_what_has_no_wheel_here_and_what_is_listed_is_built(
    tmp_path: Path, upstream: list[str]
) -> None:
    config = _config(tmp_path, 'build_from_source = ["Six"]\n')
    plan = selective.plan_selective(config, report=lambda line: None)
    assert plan.requirements == ["docopt==0.6.2", "six==1.17.0"]
    assert [b.reason for b in plan.from_source] == [
        "sdist only upstream",
        "listed in build_from_source",
    ]
    # Fromager gets the versions resolved upstream as constraints.
    constraints = Layout.of(config).selective_constraints.read_text()
    assert "idna==3.11\n" in constraints and "markupsafe==3.0.3\n" in constraints
    recorded = json.loads(Layout.of(config).selective_plan.read_text())
    assert [item["project"] for item in recorded["from_source"]] == ["docopt", "six"]


def test_a_project_the_stack_patches_or_has_settings_for_is_built_not_fetched(
    tmp_path: Path, upstream: list[str]
) -> None:
    # idna and markupsafe have wheels upstream; the stack patches one and configures the
    # other, which an upstream binary would ignore: both are built here, and said why.
    config = _config(tmp_path, "")
    (config.patches_dir / "idna").mkdir(parents=True)
    (config.patches_dir / "idna" / "0001-x.patch").write_text("--- a/x\n+++ b/x\n")
    config.settings_dir.mkdir(parents=True, exist_ok=True)
    (config.settings_dir / "markupsafe.yaml").write_text("env:\n  CFLAGS: -O1\n")
    plan = selective.plan_selective(config, report=lambda line: None)
    assert {b.project: b.reason for b in plan.from_source} == {
        "docopt": "sdist only upstream",
        "idna": "patched here: 1 patch(es)",
        "markupsafe": "build settings here: markupsafe.yaml",
    }


def test_a_listed_project_no_layer_needs_is_refused(tmp_path: Path, upstream: list[str]) -> None:
    config = _config(tmp_path, 'build_from_source = ["numpy"]\n')
    with pytest.raises(ConfigError, match="names numpy, which no layer needs on linux_x86_64"):
        selective.plan_selective(config, report=lambda line: None)


def test_every_other_pin_is_fetched_for_each_platform_and_recorded(
    tmp_path: Path, upstream: list[str]
) -> None:
    config = _config(tmp_path)
    plan = selective.plan_selective(config, report=lambda line: None)
    lines: list[str] = []
    # Fromager built docopt, its build tool setuptools and (as a dependency) six.
    built = [("docopt", "0.6.2"), ("setuptools", "80.0"), ("six", "1.17.0")]
    wheels = selective.fetch_upstream(config, plan, built, lines.append)
    assert [(w.filename, w.platforms) for w in wheels] == [
        ("idna-3.11-py3-none-any.whl", ("linux_x86_64", "win_amd64")),
        ("markupsafe-3.0.3-cp311-cp311-manylinux_2_17_x86_64.whl", ("linux_x86_64",)),
        ("markupsafe-3.0.3-cp311-cp311-win_amd64.whl", ("win_amd64",)),
    ]
    assert wheels[0].sha256 == _sha(wheels[0].filename) and wheels[0].index_url == INDEX
    assert selective.read_upstream_wheels(config) == wheels
    assert "took 3 binary wheel(s) from https://pypi.test/simple/ (3 downloaded" in lines[0]
    # A rerun downloads nothing whose bytes are already there, and again what changed.
    assert len(upstream) == 3
    assert selective.fetch_upstream(config, plan, built, lines.append) == wheels
    assert len(upstream) == 3 and "(0 downloaded" in lines[-1]
    Layout.of(config).upstream_wheel(wheels[0].filename).write_bytes(b"x")
    selective.fetch_upstream(config, plan, built, lines.append)
    assert upstream[3:] == [wheels[0].url] and "(1 downloaded" in lines[-1]


def test_a_pin_with_no_wheel_for_a_platform_is_named_as_left_to_other_hosts(
    tmp_path: Path, upstream: list[str]
) -> None:
    config = _config(tmp_path)
    plan = selective.plan_selective(config, report=lambda line: None)
    without_win = dict(FILES, markupsafe=FILES["markupsafe"][:1])
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            selective,
            "published_files",
            lambda url, project: {
                n: PageFile(n, "https://f.test/" + n, _sha(n)) for n in without_win[project]
            },
        )
        selective.fetch_upstream(config, plan, [("docopt", "0.6.2")], lines.append)
    assert "left to other build hosts): markupsafe==3.0.3 (win_amd64)" in lines[1]


def test_an_unreachable_index_names_the_project(tmp_path: Path, upstream: list[str]) -> None:
    config = _config(tmp_path)
    plan = selective.plan_selective(config, report=lambda line: None)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(selective, "published_files", unreachable)
        with pytest.raises(DownloadError, match="idna: cannot list its files on https://pypi"):
            selective.fetch_upstream(config, plan, [("docopt", "0.6.2")], lambda line: None)


def _upstream_manifest(sha256: str) -> Manifest:
    name = "idna-3.11-py3-none-any.whl"
    record = WheelProvenance.upstream_binary(
        name, "idna", "3.11", "cpu", UpstreamRecord(INDEX, f"https://files.test/{name}", sha256)
    )
    return Manifest({name: record})


def test_verify_checks_each_upstream_binary_against_its_index(
    tmp_path: Path, upstream: list[str]
) -> None:
    config = _config(tmp_path)
    name = "idna-3.11-py3-none-any.whl"
    ours = frozenset({name})
    assert upstream_problems(config, _upstream_manifest(_sha(name)), ours) == []
    # A wheel swapped in, its record edited to match: the index publishes other bytes.
    edited = upstream_problems(config, _upstream_manifest("0" * 64), ours)
    assert edited == [
        f"{name}: {INDEX} publishes sha256 {_sha(name)[:12]}..., its provenance records"
        " 000000000000..."
    ]


def test_verify_refuses_an_upstream_record_for_a_project_the_plan_built(
    tmp_path: Path, upstream: list[str]
) -> None:
    config = _config(tmp_path, 'build_from_source = ["idna"]\n')
    selective.plan_selective(config, report=lambda line: None)
    name = "idna-3.11-py3-none-any.whl"
    problems = upstream_problems(config, _upstream_manifest(_sha(name)), frozenset({name}))
    assert problems == [
        f"{name}: recorded as an upstream binary, but the selective plan built idna from"
        " source (selective.json)"
    ]


def test_verify_counts_an_unreadable_index_as_a_problem(
    tmp_path: Path, upstream: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    monkeypatch.setattr("srcstacks.verify.upstream.published_files", unreachable)
    name = "idna-3.11-py3-none-any.whl"
    problems = upstream_problems(config, _upstream_manifest(_sha(name)), frozenset({name}))
    assert problems == [
        f"{name}: cannot check it against its upstream index: cannot read"
        " https://pypi.test/simple/idna/: timed out"
    ]


def test_a_rebuild_resolves_the_versions_the_first_build_did(
    tmp_path: Path, upstream: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []

    def recording(
        config: StackConfig, report: Callable[[str], None], pinned: object = None
    ) -> Discovery:
        seen.append(pinned)
        return discover(config, report)

    monkeypatch.setattr(selective, "discover", recording)
    pins = tmp_path / "pins.txt"
    pins.write_text("IDNA==3.11\nsix==1.17.0\n")
    selective.plan_selective(_config(tmp_path), lambda line: None, pins)
    assert seen == [{"idna": "3.11", "six": "1.17.0"}]
