"""``srcstacks report``'s own logic on made-up outputs: reading SBOMs, escaping, layout.

The outputs here are written by the test (an SBOM with a hostile summary, both forms of
a lower-layer reference, provenance records with and without a build environment); the e2e
test (tests/e2e/test_report.py) opens the page of a real build in a real browser.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import subprocess
import sys
from dataclasses import replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from srcstacks.layout import Layout, sbom_path
from srcstacks.report.build_tools import BuildToolsIndex
from srcstacks.report.gather import gather
from srcstacks.report.graph_svg import BOX_HEIGHT, COLUMN_WIDTH, layout, render_svg
from srcstacks.report.model import (
    FROM_PROVENANCE,
    NOT_BUILT_HERE,
    NOT_RECORDED,
    Graph,
    GraphEdge,
    GraphNode,
    VerifyOutcome,
)
from srcstacks.report.page import render_page
from srcstacks.report.verify_result import portable
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.spec.rules import BUILD_PLATFORM
from srcstacks.state.build_record import SystemPackage
from srcstacks.state.provenance import (
    BuildEnvironment,
    BuildTool,
    HostRecord,
    Manifest,
    SdistRecord,
    UpstreamRecord,
    WheelProvenance,
    read_manifest,
    write_manifest,
)
from tests.conftest import copy_demo_stack, run_cli
from tests.test_cli_errors import error_line

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'
HOSTILE_NAME = 'evil"><svg onload=alert(3)>'
HOSTILE_WHEEL = f"{HOSTILE_NAME}-6.6.6-0-py3-none-any.whl"
RUNTIME_SERIAL = "11111111-1111-5111-8111-111111111111"
FRAMEWORK_SERIAL = "22222222-2222-5222-8222-222222222222"
APP_SERIAL = "33333333-3333-5333-8333-333333333333"


def _layer(name: str, runtime: str, required: list[str], app: str | None = None) -> dict[str, Any]:
    return {
        "install_target": name,
        "archive_name": f"{name}.tar.xz",
        "archive_hashes": {"sha256": "a" * 64},
        "runtime_layer": runtime,
        "required_layers": required,
        "app_launch_module": app,
    }


def _document(serial: str, layer: str, components: list[Any], deps: list[Any]) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{serial}",
        "metadata": {"component": {"bom-ref": f"layer:{layer}", "name": layer}},
        "components": components,
        "dependencies": deps,
    }


def _library(name: str, version: str, **extra: Any) -> dict[str, Any]:
    wheel = f"{name}-{version}-0-py3-none-any.whl"
    return {
        "type": "library",
        "bom-ref": f"pkg:pypi/{name}@{version}",
        "name": name,
        "version": version,
        "licenses": [{"license": {"id": "MIT", "acknowledgement": "declared"}}],
        "supplier": {"name": "ACME"},
        "properties": [{"name": "srcstacks:wheel", "value": wheel}],
        **extra,
    }


GCC_12 = SystemPackage("gcc-12", "12.2.0-14+deb12u1", "amd64", "deb", ("compiler",))
LIBC6_DEV = SystemPackage("libc6-dev", "2.36-9", "amd64", "deb", ("development",))


def _record(wheel: str, environment: BuildEnvironment | None) -> WheelProvenance:
    name, version = wheel.split("-")[:2]
    sdist = SdistRecord(f"https://example.org/{name}-{version}.tar.gz", "s.tar.gz", "f" * 64)
    return WheelProvenance(
        filename=wheel, project=name, version=version, build_tag="0", sha256="c" * 64,
        variant="cpu", sdist=sdist, built_from_source=True, build_environment=environment,
    )  # fmt: skip


def _provenance() -> Manifest:
    """markupsafe with a full build environment, jinja2 a pure one, the hostile one none."""
    setuptools = BuildTool("setuptools", "80.9.0", "s.whl", "b" * 64, "build-system")
    flit_core = BuildTool("flit-core", "3.12.0", "f.whl", "e" * 64, "build-system")
    compiled = BuildEnvironment(
        (setuptools,),
        ("GCC: (Debian 12.2.0-14+deb12u1) 12.2.0",),
        {"CFLAGS": "-O2"},
        system_packages=(GCC_12, LIBC6_DEV),
    )
    records = [
        _record("markupsafe-3.0.4-0-py3-none-any.whl", compiled),
        _record("jinja2-3.1.6-0-py3-none-any.whl", BuildEnvironment((flit_core,))),
        _record(HOSTILE_WHEEL, None),
    ]
    return Manifest({record.filename: record for record in records})


def write_outputs(config: StackConfig, *, local_refs: bool) -> None:
    """A runtime, a framework (hostile summary, a patch) and an app on it, as files.

    ``local_refs``: the app refers to the framework's package by a local bom-ref with a
    ``bom`` external reference (instead of a bom-ref that is the BOM-Link itself).
    """
    layout = Layout.of(config)
    layout.stack_manifest.parent.mkdir(parents=True)
    layers = {
        "runtimes": [_layer("cpython-3.11", "cpython-3.11", [])],
        "frameworks": [_layer("framework-web", "cpython-3.11", [])],
        "applications": [_layer("app-greeter", "cpython-3.11", ["framework-web"], "greeter")],
    }
    layout.stack_manifest.write_text(json.dumps({"layers": layers}))
    layout.build_info.parent.mkdir(parents=True)
    layout.build_info.write_text(
        json.dumps({"variant": "cpu", "runtimes": [], "tools": {"fromager": "0.77.0"}})
    )
    config.wheel_dir.mkdir(parents=True)
    write_manifest(config.wheel_dir, _provenance())
    runtime = {
        "type": "platform",
        "bom-ref": "cpython",
        "name": "cpython",
        "version": "3.11.7",
        "properties": [
            {"name": "srcstacks:runtime:origin", "value": "cpython-3.11.7.tar.gz"},
            {"name": "srcstacks:system_libraries", "value": "libc.so.6 libssl.so.3"},
        ],
        "components": [
            {"type": "library", "bom-ref": "cpython::bundled:expat", "name": "expat",
             "version": "2.5.0",
             "properties": [{"name": "srcstacks:bundled:where", "value": "Modules/expat"}]},
            {"type": "library", "bom-ref": "cpython::system:libssl.so.3", "name": "libssl3",
             "version": "3.0.19",
             "properties": [
                 {"name": "srcstacks:system_library:soname", "value": "libssl.so.3"},
                 {"name": "srcstacks:system_library:build_machine_package",
                  "value": "libssl3 3.0.19 (deb)"}]},
        ],
    }  # fmt: skip
    patch = {
        "type": "unofficial",
        "diff": {"url": "patches/markupsafe/0001.patch", "text": {"content": f"+{HOSTILE}\n"}},
    }
    markupsafe = _library("markupsafe", "3.0.4", description=HOSTILE, pedigree={"patches": [patch]})
    evil = _library(HOSTILE_NAME, "6.6.6", description=HOSTILE)
    runtime_link = f"urn:cdx:{RUNTIME_SERIAL}/1"
    framework_link = f"urn:cdx:{FRAMEWORK_SERIAL}/1"
    markupsafe_link = f"{framework_link}#pkg%3Apypi%2Fmarkupsafe%403.0.4"

    def lower(link: str, name: str, nested: list[Any]) -> dict[str, Any]:
        ref = f"lower:{name}" if local_refs else link
        return {
            "type": "framework", "bom-ref": ref, "name": name, "version": "1",
            "externalReferences": [{"type": "bom", "url": link}],
            "properties": [{"name": "srcstacks:sbom_file", "value": f"{name}.tar.xz.cdx.json"}],
            "components": nested,
        }  # fmt: skip

    stub = {
        "type": "library",
        "bom-ref": "stub:markupsafe" if local_refs else markupsafe_link,
        "name": "markupsafe",
        "version": "3.0.4",
        "externalReferences": [{"type": "bom", "url": markupsafe_link}],
        "properties": [{"name": "srcstacks:provided_by", "value": "framework-web"}],
    }
    jinja2 = _library("jinja2", "3.1.6")
    documents = {
        "cpython-3.11": _document(RUNTIME_SERIAL, "cpython-3.11", [runtime], []),
        "framework-web": _document(
            FRAMEWORK_SERIAL,
            "framework-web",
            [markupsafe, evil, lower(runtime_link, "cpython-3.11", [])],
            [{"ref": "layer:framework-web", "dependsOn": ["pkg:pypi/markupsafe@3.0.4"]}],
        ),
        "app-greeter": _document(
            APP_SERIAL,
            "app-greeter",
            [jinja2, lower(framework_link, "framework-web", [stub])],
            [{"ref": "pkg:pypi/jinja2@3.1.6", "dependsOn": [stub["bom-ref"]]}],
        ),
    }
    for name, document in documents.items():
        sbom_path(layout.archive(f"{name}.tar.xz")).write_text(json.dumps(document))


@pytest.fixture
def outputs(tmp_path: Path) -> StackConfig:
    config = load_config(copy_demo_stack(tmp_path / "stack"))
    write_outputs(config, local_refs=False)
    return config


class _Elements(HTMLParser):
    """Every element and attribute of a page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def injected(page: str) -> list[str]:
    """Markup a page must never hold: scripts, images, event handler attributes."""
    parser = _Elements()
    parser.feed(page)
    found = [tag for tag, _ in parser.tags if tag in ("script", "img", "iframe", "object")]
    found += [name for _, attrs in parser.tags for name in attrs if name.startswith("on")]
    return found


def test_hostile_summary_and_name_are_escaped_everywhere(outputs: StackConfig) -> None:
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    assert injected(page) == []
    parser = _Elements()
    parser.feed(page)
    text = "".join(parser.text)
    # Shown as text: in the components table, the patch, the graph's labels.
    assert text.count(HOSTILE) >= 3
    assert HOSTILE_NAME in text


def test_the_injection_check_catches_unescaped_markup(outputs: StackConfig) -> None:
    """Negative control: the same page with one summary left unescaped fails the check."""
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"
    assert escaped in page
    assert injected(page.replace(escaped, HOSTILE, 1)) == ["script", "img", "onerror"]


def test_same_outputs_give_the_same_bytes_wherever_they_lie(tmp_path: Path) -> None:
    pages = []
    for where in ("one", "two/deeper"):
        config = load_config(copy_demo_stack(tmp_path / where / "stack"))
        write_outputs(config, local_refs=False)
        page = render_page(gather(config, VerifyOutcome(ran=False)))
        assert str(tmp_path) not in page
        pages.append(page)
    assert pages[0] == pages[1]


def test_every_component_is_listed_with_its_kind_and_origin(outputs: StackConfig) -> None:
    report = gather(outputs, VerifyOutcome(ran=False))
    listed = {
        layer.name: [(c.name, c.version, c.kind) for c in layer.components]
        for layer in report.layers
    }
    assert listed == {
        "cpython-3.11": [
            ("cpython", "3.11.7", "interpreter"),
            ("expat", "2.5.0", "built into the interpreter"),
            ("libssl3", "3.0.19", "system library"),
        ],
        "framework-web": [
            ("markupsafe", "3.0.4", "distribution"),
            (HOSTILE_NAME, "6.6.6", "distribution"),
            ("cpython-3.11", "1", "layer below"),
        ],
        "app-greeter": [
            ("jinja2", "3.1.6", "distribution"),
            ("framework-web", "1", "layer below"),
            ("markupsafe", "3.0.4", "from a layer below"),
        ],
    }
    runtime = report.layers[0]
    assert [(n.soname, n.needed_by, n.build_machine_package) for n in runtime.system_libraries] == [
        ("libc.so.6", ("cpython",), ""),
        ("libssl.so.3", ("cpython",), "libssl3 3.0.19 (deb)"),
    ]
    markupsafe = report.layers[1].components[0]
    assert markupsafe.licences == ("MIT (declared)",)
    assert [(p.path, p.text) for p in markupsafe.patches] == [
        ("patches/markupsafe/0001.patch", f"+{HOSTILE}\n")
    ]


@pytest.mark.parametrize("local_refs", [False, True], ids=["bom-link-refs", "local-refs"])
def test_edges_into_a_lower_layer_reach_its_package(tmp_path: Path, local_refs: bool) -> None:
    config = load_config(copy_demo_stack(tmp_path / "stack"))
    write_outputs(config, local_refs=local_refs)
    graph = gather(config, VerifyOutcome(ran=False)).graph
    labels = {node.node: node.label for node in graph.nodes}
    drawn = {(labels[e.source], labels[e.target], e.between_layers) for e in graph.edges}
    assert drawn == {
        ("jinja2 3.1.6", "markupsafe 3.0.4", False),
        ("framework-web", "cpython-3.11", True),
        ("app-greeter", "framework-web", True),
    }


def test_build_tools_come_from_provenance_or_are_not_recorded(outputs: StackConfig) -> None:
    index = BuildToolsIndex.read(outputs.wheel_dir)
    recorded = index.tools_for("markupsafe-3.0.4-0-py3-none-any.whl")
    assert recorded.source == FROM_PROVENANCE and recorded.environment is not None
    assert [(t.name, t.version, t.sha256) for t in recorded.environment.tools] == [
        ("setuptools", "80.9.0", "b" * 64)
    ]
    assert recorded.environment.compilers == ("GCC: (Debian 12.2.0-14+deb12u1) 12.2.0",)
    assert recorded.environment.env == {"CFLAGS": "-O2"}
    # A record without a build environment, and a wheel without a record, claim nothing.
    for wheel in (HOSTILE_WHEEL, "idna-3.11-0-py3-none-any.whl"):
        nowhere = index.tools_for(wheel)
        assert nowhere.source == NOT_RECORDED and not nowhere.recorded


def test_page_names_tools_and_says_not_recorded(outputs: StackConfig) -> None:
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    assert "setuptools 80.9.0 (build-system) sha256 " + "b" * 64 in page
    assert "GCC: (Debian 12.2.0-14+deb12u1) 12.2.0" in page
    # The Debian packages markupsafe's build used, with versions and why.
    assert (
        "<td>gcc-12 12.2.0-14+deb12u1 amd64 (compiler); libc6-dev 2.36-9 amd64 (development)</td>"
    ) in page
    # jinja2 is pure Python: its record says no compilers, no system packages, no flags.
    assert (
        "<td>flit-core 3.12.0 (build-system) sha256 " + "e" * 64 + "</td>"
        "<td>none</td><td>none</td><td>none</td><td>provenance</td>"
    ) in page
    # The hostile package's record has no build environment: all five cells say so.
    assert f"<td>{escape(HOSTILE_WHEEL)}</td>" + "<td>not recorded</td>" * 5 in page


def test_report_with_a_malformed_provenance_names_it(outputs: StackConfig) -> None:
    Layout.of(outputs).provenance.write_text('{"format": 1, "wheels": {"x.whl": {}}}')
    result = run_cli("report", outputs.spec_path, "--no-verify", check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert str(Layout.of(outputs).provenance) in line and "malformed provenance entry" in line


WIN_ONLY = """
[[applications]]
name = "win-only"
launch_module = "launch_modules/punycode.py"
runtime = "cpython-3.11"
platforms = ["win_amd64"]
requirements = []
"""


def test_layers_left_to_other_hosts_are_named_with_their_platforms(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path / "stack")
    text = spec.read_text().replace(
        'platforms = ["linux_x86_64"]', 'platforms = ["linux_x86_64", "win_amd64"]'
    )
    text = text.replace(
        'requirements = ["markupsafe==3.0.4"]',
        'requirements = ["markupsafe==3.0.4", "dlltracer; sys_platform == \'win32\'"]',
    )
    spec.write_text(text.replace("[tool.srcstacks]", WIN_ONLY + "\n[tool.srcstacks]", 1))
    config = load_config(spec)
    write_outputs(config, local_refs=False)
    lock = spec.parent / "requirements" / "app-win-only" / "pylock.app-win-only.toml"
    lock.parent.mkdir(parents=True)
    lock.write_text('lock-version = "1.0"\n')
    manifest = _provenance()
    dlltracer = replace(
        _record("dlltracer-1.0.2-cp311-cp311-win_amd64.whl", None),
        project="dlltracer", host=HostRecord("winbuild", "win_amd64"),
    )  # fmt: skip
    write_manifest(config.wheel_dir, Manifest({**manifest.wheels, dlltracer.filename: dlltracer}))

    report = gather(config, VerifyOutcome(ran=False))
    page = render_page(report)
    assert "<tr><th>Layers built on other hosts</th><td>1</td></tr>" in page
    assert (
        '<tr class="elsewhere"><td>app-win-only</td><td>application</td><td>win_amd64</td>'
        "<td>locked here (requirements/app-win-only/pylock.app-win-only.toml)</td>"
        "<td>built on another host</td></tr>"
    ) in page
    assert (
        "<td>framework-web</td><td>dlltracer; sys_platform == &quot;win32&quot;</td>"
        "<td>dlltracer-1.0.2-cp311-cp311-win_amd64.whl (built on winbuild)</td>"
    ) in page
    # Not locked yet, and without a wheel: said so rather than left out.
    lock.unlink()
    write_manifest(config.wheel_dir, manifest)
    page = render_page(gather(config, VerifyOutcome(ran=False)))
    assert "<td>win_amd64</td><td>not locked yet</td>" in page
    assert "win32&quot;</td><td>none</td>" in page


PYPI = "https://pypi.org/simple/"
JINJA2_WHEEL = "jinja2-3.1.6-0-py3-none-any.whl"
# The index's own file URL; hostile, so the details cell is shown escaped too.
JINJA2_URL = f"https://files.example.org/{HOSTILE}/jinja2-3.1.6-py3-none-any.whl"


def _upstream_jinja2(config: StackConfig) -> None:
    """Replace jinja2's record by one of an upstream binary, as selective mode writes it."""
    manifest = _provenance()
    upstream = replace(
        manifest.wheels[JINJA2_WHEEL],
        sdist=None, built_from_source=False, build_environment=None,
        upstream=UpstreamRecord(PYPI, JINJA2_URL, "d" * 64),
    )  # fmt: skip
    write_manifest(config.wheel_dir, Manifest({**manifest.wheels, JINJA2_WHEEL: upstream}))


def _selective(tmp_path: Path) -> StackConfig:
    spec = copy_demo_stack(tmp_path / "stack")
    text = spec.read_text()
    spec.write_text(
        text.replace(
            "[tool.srcstacks]\n",
            '[tool.srcstacks]\nmode = "selective"\nbuild_from_source = ["MarkupSafe"]\n',
            1,
        )
    )
    config = load_config(spec)
    write_outputs(config, local_refs=False)
    _upstream_jinja2(config)
    return config


def test_an_upstream_binary_shows_its_index_file_and_sha256(tmp_path: Path) -> None:
    config = _selective(tmp_path)
    report = gather(config, VerifyOutcome(ran=False))
    app = report.layers[2].components
    jinja2, markupsafe = app[0], report.layers[1].components[0]
    assert jinja2.wheel_origin is not None and markupsafe.wheel_origin is not None
    assert jinja2.wheel_origin.label == f"upstream binary from {PYPI}"
    assert jinja2.wheel_origin.details == (f"file: {JINJA2_URL}", "sha256: " + "d" * 64)
    assert markupsafe.wheel_origin.label == "built from source"
    # Not a distribution of its layer: no wheel, no origin of its own here.
    assert [c.wheel_origin for c in app[1:]] == [None, None]
    page = render_page(report)
    assert injected(page) == []
    assert (
        "<tr><th>Build mode</th><td>selective: only what has no binary wheel for this"
        " platform is built from source, and always markupsafe (build_from_source)</td></tr>"
        "\n<tr><th>Python packages built from source</th><td>2</td></tr>"
        "\n<tr><th>Python packages taken as upstream binaries</th><td>1</td></tr>"
    ) in page
    assert (
        f"<td>distribution</td><td>upstream binary from {PYPI}"
        f'<br><span class="detail">file: {escape(JINJA2_URL)}</span>'
        f'<br><span class="detail">sha256: {"d" * 64}</span></td>'
    ) in page
    assert "<td>distribution</td><td>built from source<br>" in page
    # No sdist in the SBOM's made-up jinja2 either: its source is the index's file.
    assert f"<td>{escape(JINJA2_URL)}</td>" in page
    # Build tools and patches: nothing was built here, so none, and said why.
    assert f"<td>{JINJA2_WHEEL}</td>" + f"<td>{escape(NOT_BUILT_HERE)}</td>" * 4 in page
    assert f"<p>No patches for jinja2 3.1.6: {escape(NOT_BUILT_HERE)}.</p>" in page
    assert "<td>flit-core" not in page  # jinja2's old record's tools are not shown
    # The graph draws jinja2's box, and only it, as an upstream binary.
    assert [n.label for n in report.graph.nodes if n.upstream] == ["jinja2 3.1.6"]
    assert page.count('class="package upstream"') == 1
    assert "<title>jinja2 3.1.6 (upstream binary)</title>" in page


def test_build_tools_of_an_upstream_binary_are_not_built_here(tmp_path: Path) -> None:
    config = _selective(tmp_path)
    index = BuildToolsIndex.read(config.wheel_dir)
    upstream = index.tools_for(JINJA2_WHEEL)
    assert upstream.source == NOT_BUILT_HERE and not upstream.recorded
    origin = index.origin_for(JINJA2_WHEEL)
    assert origin.upstream == UpstreamRecord(PYPI, JINJA2_URL, "d" * 64)
    # Negative controls: a wheel built here, and one without any record.
    assert index.origin_for("markupsafe-3.0.4-0-py3-none-any.whl").label == "built from source"
    assert index.tools_for("markupsafe-3.0.4-0-py3-none-any.whl").source == FROM_PROVENANCE
    assert index.origin_for("idna-3.11-0-py3-none-any.whl").label == NOT_RECORDED


def test_a_full_mode_stack_shows_no_upstream_wording(outputs: StackConfig) -> None:
    """Negative control: the demo (full mode, everything built here) never says upstream."""
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    assert "<tr><th>Build mode</th><td>full: every wheel is built from source</td></tr>" in page
    body = page.split("</style>", 1)[1]  # the style sheet names the class, unused here
    assert "upstream" not in body.lower() and "Python packages built" not in body
    assert page.count("<td>distribution</td><td>built from source<br>") == 3


def test_an_upstream_binary_in_a_full_mode_stack_is_still_shown(outputs: StackConfig) -> None:
    """The page shows what the records say even when the mode forbids it (verify fails)."""
    _upstream_jinja2(outputs)
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    assert "<td>full: every wheel is built from source</td>" in page
    assert "<tr><th>Python packages taken as upstream binaries</th><td>1</td></tr>" in page
    assert f"<td>upstream binary from {PYPI}<br>" in page


def test_a_stack_built_wholly_here_says_so(outputs: StackConfig) -> None:
    """Negative control: the demo leaves no layer to another host."""
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    assert "<tr><th>Layers built on other hosts</th><td>0</td></tr>" in page
    assert "None: this machine (linux_x86_64) builds an archive of every layer." in page
    assert 'class="elsewhere"' not in page and "only other platforms need" not in page


def test_graph_boxes_sit_in_their_layer_columns_without_overlapping() -> None:
    nodes = [
        GraphNode("n0", "runtime", "runtime", True),
        GraphNode("n1", "cpython 3.11", "runtime", False),
        GraphNode("n2", "framework", "framework", True),
        *(GraphNode(f"n{3 + i}", f"pkg{i} 1.0", "framework", False) for i in range(4)),
        GraphNode("n7", "app", "app", True),
        GraphNode("n8", "<b>app-pkg</b> 1.0", "app", False),
    ]
    edges = [
        GraphEdge("n8", "n1", False),
        GraphEdge("n7", "n0", True),
        GraphEdge("n3", "n4", False),
    ]
    boxes, width, height = layout(Graph(tuple(nodes), tuple(edges)))
    columns = {box.node.layer: box.x for box in boxes.values() if box.node.is_layer}
    assert columns["runtime"] < columns["framework"] < columns["app"]
    for box in boxes.values():
        assert box.x == columns[box.node.layer]
        assert box.x > 0 and box.x + COLUMN_WIDTH < width and box.y + BOX_HEIGHT < height
        if not box.node.is_layer:  # below its layer's header
            header = next(b for b in boxes.values() if b.node.is_layer and b.x == box.x)
            assert box.y > header.y + BOX_HEIGHT
    placed = sorted((box.x, box.y) for box in boxes.values())
    for (x1, y1), (x2, y2) in itertools.pairwise(placed):
        assert x1 != x2 or y2 >= y1 + BOX_HEIGHT  # no two boxes of a column overlap
    svg = render_svg(Graph(tuple(nodes), tuple(edges)))
    assert "&lt;b&gt;app-pkg&lt;/b&gt; 1.0" in svg and "<b>" not in svg
    assert svg.count('class="edge requires"') == 2 and svg.count('class="edge stacking"') == 1


def test_an_arrow_over_a_column_passes_above_or_below_its_boxes() -> None:
    nodes = (
        GraphNode("n0", "a", "a", True),
        GraphNode("n1", "b", "b", True),
        GraphNode("n2", "b-pkg", "b", False),
        GraphNode("n3", "c", "c", True),
        GraphNode("n4", "c-pkg", "c", False),
        GraphNode("n5", "a-pkg", "a", False),
    )
    graph = Graph(nodes, (GraphEdge("n3", "n0", True), GraphEdge("n4", "n5", False)))
    boxes, _, _ = layout(graph)
    svg = render_svg(graph)
    paths = [line for line in svg.splitlines() if line.startswith('<path class="edge')]
    top = min(box.y for box in boxes.values())
    bottom = max(box.y + BOX_HEIGHT for box in boxes.values())
    stacking = _control_y(next(p for p in paths if "stacking" in p))
    requires = _control_y(next(p for p in paths if "requires" in p))
    assert stacking < top and requires > bottom


def _control_y(path: str) -> int:
    """The y of a cubic path's first control point (``M x,y Cx,y ...``)."""
    return int(path.split(" C", 1)[1].split(",", 1)[1].split(" ", 1)[0])


def test_verify_messages_name_no_machine_folder(outputs: StackConfig) -> None:
    message = f"{outputs.wheel_dir}/x.whl differs; see {outputs.spec_dir}/patches/p.patch"
    assert (
        portable(message, outputs) == "<wheel dir>/x.whl differs; see <stack dir>/patches/p.patch"
    )


def test_page_without_verify_says_so(outputs: StackConfig) -> None:
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    assert "not run (--no-verify)" in page
    failed = VerifyOutcome(ran=True, problems=(HOSTILE,), summary="checked 1 wheel(s)")
    page = render_page(gather(outputs, failed))
    assert "FAILED: 1 problem(s)" in page and injected(page) == []


def test_report_before_any_build_names_the_file_and_command(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    result = run_cli("report", spec, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert "venvstacks.json" in line and "run 'srcstacks archives'" in line
    assert not Layout.of(load_config(spec)).report.exists()


@pytest.mark.parametrize("command", ["verify", "report"])
def test_verify_and_report_read_the_outputs_the_options_name(tmp_path: Path, command: str) -> None:
    spec = copy_demo_stack(tmp_path / "stack")
    default = Layout.of(load_config(spec)).stack_manifest
    moved = tmp_path / "elsewhere" / default.relative_to(default.parents[1])
    for options, manifest in (((), default), (("--output-dir", moved.parents[1]), moved)):
        result = run_cli(command, spec, *options, "--no-index", check=False)
        assert result.returncode == 1
        assert error_line(result.stderr).startswith(f"srcstacks: error: {manifest}: no archives")


def test_report_without_provenance_names_it(outputs: StackConfig) -> None:
    Layout.of(outputs).provenance.unlink()
    result = run_cli("report", outputs.spec_path, "--no-verify", check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert str(Layout.of(outputs).provenance) in line
    assert "run 'srcstacks publish-wheels'" in line


def test_report_without_an_sbom_names_it(outputs: StackConfig) -> None:
    missing = sbom_path(Layout.of(outputs).archive("framework-web.tar.xz"))
    missing.unlink()
    result = run_cli("report", outputs.spec_path, "--no-verify", check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert str(missing) in line and "run 'srcstacks sbom'" in line


def test_report_with_a_corrupt_sbom_names_it(outputs: StackConfig) -> None:
    broken = sbom_path(Layout.of(outputs).archive("app-greeter.tar.xz"))
    broken.write_text("{not json")
    result = run_cli("report", outputs.spec_path, "--no-verify", check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert str(broken) in line and "unreadable SBOM" in line


def test_report_command_writes_the_page(outputs: StackConfig, tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    result = run_cli("report", outputs.spec_path, "--no-verify", "--output", target)
    assert result.stdout == f"report written to {target}\n"
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # Each layer's SBOM serial and whether its archive is signed (these outputs are not).
    sboms = sorted(outputs.output_dir.glob("*.cdx.json"))
    assert page.count("<th>SBOM serial</th>") == len(sboms) > 0
    for sbom in sboms:
        serial = json.loads(sbom.read_text()).get("serialNumber")
        assert serial is None or f"<th>SBOM serial</th><td>{serial}</td>" in page, sbom.name
    assert page.count("none: built without a signing key") == len(sboms)
    # Its own page is written again; a file of the user's at that path is never replaced.
    run_cli("report", outputs.spec_path, "--no-verify", "--output", target)
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    refused = run_cli("report", outputs.spec_path, "--no-verify", "--output", mine, check=False)
    assert refused.returncode == 1
    assert error_line(refused.stderr) == (
        f"srcstacks: error: {mine}: exists and is not a report srcstacks wrote; refusing to"
        " overwrite it (choose another --output, or move it away)"
    )
    assert mine.read_text() == "<p>my notes</p>"


def test_the_cli_starts_without_importing_the_report() -> None:
    code = (
        "import sys; import srcstacks.cli; "
        "print(sorted(m for m in sys.modules"
        " if m == 'srcstacks.report' or m.startswith('srcstacks.report.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_patched_component_is_marked_in_the_graph(outputs: StackConfig) -> None:
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    assert "<title>markupsafe 3.0.4 (built from patched source)</title>" in page
    assert "A thick red border: built from patched source." in page
    assert "<title>jinja2 3.1.6</title>" in page  # no patch: no mark


def test_each_sbom_says_which_profiles_it_meets(outputs: StackConfig) -> None:
    report = gather(outputs, VerifyOutcome(ran=False))
    # The stub SBOMs here lack NTIA's minimum elements (no timestamp, no author).
    assert {layer.sbom_profiles for layer in report.layers} == {()}
    page = render_page(report)
    shown = "<tr><th>SBOM meets</th><td>no profile (&#x27;srcstacks sbom check --profile ntia&#x27;"
    assert page.count(shown) == len(report.layers)


def test_a_degraded_wheel_is_named_with_what_it_lacks(outputs: StackConfig) -> None:
    lacks = "lacks markupsafe/_speedups, which markupsafe-3.0.4-cp311-manylinux.whl ships"
    for sbom in outputs.output_dir.glob("*.cdx.json"):
        document = json.loads(sbom.read_text(encoding="utf-8"))
        for component in document.get("components", []):
            if component.get("name") == "markupsafe":
                component.setdefault("properties", []).append(
                    {"name": "srcstacks:degraded", "value": lacks}
                )
        sbom.write_text(json.dumps(document), encoding="utf-8")
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    assert f'<span class="detail">degraded: {lacks}</span>' in page
    assert "<tr><th>Wheels lacking modules PyPI&#x27;s binary has</th><td>1</td></tr>" in page


def test_a_built_wheel_shows_its_sha256_its_sdists_and_its_patches(outputs: StackConfig) -> None:
    patch_sha256 = "d" * 64
    for sbom in outputs.output_dir.glob("*.cdx.json"):
        document = json.loads(sbom.read_text(encoding="utf-8"))
        for component in document.get("components", []):
            if component.get("name") == "markupsafe":
                component.setdefault("properties", []).append(
                    {"name": "srcstacks:patch:patches/markupsafe/0001.patch:sha256",
                     "value": patch_sha256}
                )  # fmt: skip
        sbom.write_text(json.dumps(document), encoding="utf-8")
    page = render_page(gather(outputs, VerifyOutcome(ran=False)))
    # As the provenance records them (see _record), and the SBOM's patch property.
    assert (
        '<td>built from source<br><span class="detail">wheel sha256: ' + "c" * 64 + "</span>"
        '<br><span class="detail">sdist s.tar.gz sha256: ' + "f" * 64 + "</span></td>"
    ) in page
    assert (
        "<code>patches/markupsafe/0001.patch</code> <small>sha256 " + patch_sha256 + "</small>"
    ) in page


def test_the_summary_names_the_spec_variant_host_and_time(outputs: StackConfig) -> None:
    # When: the SBOMs' own (reproducible) timestamp, the latest of them.
    for index, path in enumerate(sorted(outputs.output_dir.glob("*.cdx.json"))):
        document = json.loads(path.read_text(encoding="utf-8"))
        document.setdefault("metadata", {})["timestamp"] = f"2026-0{index + 1}-01T00:00:00Z"
        path.write_text(json.dumps(document), encoding="utf-8")
    report = gather(outputs, VerifyOutcome(ran=False))
    page = render_page(report)
    spec_sha256 = hashlib.sha256(outputs.spec_path.read_bytes()).hexdigest()
    assert f"<td>{escape(outputs.spec_path.name)} (sha256 {spec_sha256})</td>" in page
    assert f"<th>Variant</th><td>{escape(report.variant)}</td>" in page
    # No record names its build host here (SRCSTACKS_BUILD_HOST is opt-in): said so, and
    # never this machine's own name, so the page is the same bytes wherever it is made.
    assert report.made_on == (
        f"not named (SRCSTACKS_BUILD_HOST names a build host); archives for {BUILD_PLATFORM}"
    )
    assert socket.gethostname() not in page
    latest = f"2026-0{len(list(outputs.output_dir.glob('*.cdx.json')))}-01T00:00:00Z"
    assert report.made_at == latest
    assert f"<th>Locked at (the SBOMs&#x27; timestamp)</th><td>{latest}</td>" in page


def test_the_summary_names_the_build_hosts_the_records_name(outputs: StackConfig) -> None:
    manifest = read_manifest(outputs.wheel_dir)
    named = {
        name: replace(record, host=HostRecord("builder-7", "linux_x86_64"))
        for name, record in manifest.wheels.items()
    }
    write_manifest(outputs.wheel_dir, Manifest(named))
    report = gather(outputs, VerifyOutcome(ran=False))
    assert report.made_on == f"builder-7; archives for {BUILD_PLATFORM}"


def test_the_summary_says_what_a_degraded_wheel_does_to_the_build(outputs: StackConfig) -> None:
    text = outputs.spec_path.read_text(encoding="utf-8")
    table = "[tool.srcstacks]\n"
    assert table in text
    outputs.spec_path.write_text(
        text.replace(table, table + 'parity = "require"\nparity_exceptions = ["MarkupSafe"]\n'),
        encoding="utf-8",
    )
    gated = gather(load_config(outputs.spec_path), VerifyOutcome(ran=False))
    assert (gated.parity, gated.parity_exceptions) == ("require", ("markupsafe",))
    gate = "<tr><th>Parity with PyPI&#x27;s binaries</th><td>"
    assert (
        gate + "require: a wheel lacking what PyPI&#x27;s binary of its version ships stops the"
        " build, except markupsafe (named only)</td></tr>"
    ) in render_page(gated)
    assert gate + "off: not compared</td></tr>" in render_page(replace(gated, parity="off"))
