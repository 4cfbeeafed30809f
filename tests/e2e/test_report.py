"""End-to-end: the report of a real build, opened in a real headless Chromium.

Uses the shared demo build read-only (the page is written to tmp_path). The browser
(Debian's ``chromium``, driven over the DevTools protocol by tests/chromium.py) must
load the page without a console error, exception, blocked or failed load, or any
request but the page itself, and its rendered text must show every component of every
SBOM on disk, each in its own layer's section. Negative controls: a page missing one
component, or hiding it, fails that check; a page with a script error or an external
image is caught by the error check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from srcstacks.layout import Layout
from srcstacks.sbom.profiles import profiles_met
from tests.chromium import Chromium, PageLoad
from tests.conftest import BuiltStack, run_cli

pytestmark = pytest.mark.e2e

Component = tuple[str, str]  # name, version


def sbom_components(output_dir: Path) -> dict[str, list[Component]]:
    """Every component (nested ones too) of every SBOM in ``output_dir``, by SBOM file."""

    def walk(items: list[dict[str, Any]]) -> list[Component]:
        found = []
        for item in items:
            found.append((str(item["name"]), str(item.get("version", ""))))
            found.extend(walk(item.get("components", [])))
        return found

    return {
        path.name: walk(json.loads(path.read_text(encoding="utf-8")).get("components", []))
        for path in sorted(output_dir.glob("*.cdx.json"))
    }


def wheels_in_sboms(output_dir: Path) -> int:
    """How many components of the SBOMs in ``output_dir`` name the wheel they came from."""
    return sum(
        1
        for path in output_dir.glob("*.cdx.json")
        for item in json.loads(path.read_text(encoding="utf-8")).get("components", [])
        if any(prop.get("name") == "srcstacks:wheel" for prop in item.get("properties", []))
    )


def layer_sections(text: str) -> list[str]:
    """The page's rendered text cut at each "Layer <name>" heading."""
    return re.split(r"\n(?=Layer \S+ (?:runtime|framework|application)\n)", text)[1:]


def components_not_shown(page: PageLoad, expected: dict[str, list[Component]]) -> list[str]:
    """Each component that no row of its layer's section shows as name, then version."""
    missing = []
    for sbom, components in expected.items():
        section = next((s for s in layer_sections(page.text) if f"SBOM\t{sbom}\n" in s), "")
        rows = {tuple(line.split("\t")[:2]) for line in section.splitlines()}
        missing += [
            f"{sbom}: {name}@{version}"
            for name, version in components
            if (name, version) not in rows
        ]
    return missing


@pytest.fixture(scope="module")
def report_page(built_stack: BuiltStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's page, written once for this module's tests (each run takes seconds)."""
    page = tmp_path_factory.mktemp("report") / "report.html"
    result = run_cli("report", built_stack.spec, "--output", page)
    assert result.stdout == f"report written to {page}\n"
    return page


def test_report_loads_cleanly_and_shows_every_component(
    built_stack: BuiltStack, report_page: Path, tmp_path: Path
) -> None:
    expected = sbom_components(built_stack.config.output_dir)
    assert len(expected) == 4 and all(expected.values())
    with Chromium(tmp_path / "profile", tmp_path / "chromium.log") as browser:
        page = browser.load(report_page)
    assert page.errors == []
    assert page.requests == [report_page.as_uri()]  # nothing fetched: self-contained
    assert components_not_shown(page, expected) == []
    framework = next(s for s in layer_sections(page.text) if s.startswith("Layer framework-web"))
    # The patch text, markupsafe's build tools and the libraries it needs at deploy time.
    assert '+        .replace("\'", "&apos;")' in framework
    (tools_line,) = [
        line for line in framework.splitlines() if line.startswith("MarkupSafe 3.0.4\t")
    ]
    built_with = tools_line.split("\t")[2]  # Distribution, Wheel, Build tools, ...
    assert built_with.startswith("setuptools ") and "(build-system)" in built_with
    assert "\nlibc.so.6\tMarkupSafe" in framework
    assert "Verify\tpassed" in page.text and "0 problem(s)" in page.text
    # Full mode: every distribution's provenance record says built from source.
    assert "Build mode\tfull: every wheel is built from source\n" in page.text
    origins = [row.split("\t")[3] for row in page.text.splitlines() if "\tdistribution\t" in row]
    assert len(origins) == wheels_in_sboms(built_stack.config.output_dir)
    assert set(origins) == {"built from source"}
    # Each layer's SBOM: the profiles `sbom check` finds it meets (the demo's meet NTIA's
    # minimum elements at least), and the patched component marked in the graph.
    for sbom in sorted(built_stack.config.output_dir.glob("*.cdx.json")):
        met = profiles_met(json.loads(sbom.read_text(encoding="utf-8")))
        assert "ntia" in met
        section = next(s for s in layer_sections(page.text) if f"SBOM\t{sbom.name}\n" in s)
        assert f"SBOM meets\t{', '.join(met)} (srcstacks sbom check)\n" in section
    html = report_page.read_text(encoding="utf-8")
    patched = set(re.findall(r"<title>([^<]*) \(built from patched source\)</title>", html))
    assert patched == {"MarkupSafe 3.0.4"}  # the demo patches markupsafe alone


def test_checks_fail_on_a_page_missing_hiding_or_breaking_something(
    built_stack: BuiltStack, report_page: Path, tmp_path: Path
) -> None:
    """Negative controls of both checks, in the same real browser."""
    expected = sbom_components(built_stack.config.output_dir)
    html = report_page.read_text(encoding="utf-8")
    row = re.compile(r'<tr class="component"><td>Jinja2</td><td>3\.1\.6</td>.*?</tr>\n')
    assert len(row.findall(html)) == 1
    without = tmp_path / "without.html"
    without.write_text(row.sub("", html), encoding="utf-8")
    hidden = tmp_path / "hidden.html"
    hidden.write_text(
        html.replace(
            '<tr class="component"><td>Jinja2',
            '<tr class="component" style="display:none"><td>Jinja2',
        ),
        encoding="utf-8",
    )
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><p>x</p><script>undefinedFunction()</script>", encoding="utf-8"
    )
    fetching = tmp_path / "fetching.html"
    fetching.write_text(
        html.replace("<h1>", '<img src="https://example.invalid/x.png"><h1>'), encoding="utf-8"
    )
    with Chromium(tmp_path / "profile", tmp_path / "chromium.log") as browser:
        loads = {path.name: browser.load(path) for path in (without, hidden, broken, fetching)}
    for name in ("without.html", "hidden.html"):
        assert components_not_shown(loads[name], expected) == [
            "app-greeter.tar.xz.cdx.json: Jinja2@3.1.6"
        ], name
        assert loads[name].errors == []
    assert any("undefinedFunction" in error for error in loads["broken.html"].errors)
    # The page's Content-Security-Policy blocks the image, and says so.
    assert any("example.invalid" in error for error in loads["fetching.html"].errors)


def test_report_is_the_same_bytes_each_time_and_names_no_machine_path(
    built_stack: BuiltStack, report_page: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.html"
    run_cli("report", built_stack.spec, "--output", again)
    assert again.read_bytes() == report_page.read_bytes()
    text = report_page.read_text(encoding="utf-8")
    config = built_stack.config
    for folder in (config.spec_dir, config.work_dir, config.wheel_dir, config.output_dir):
        assert str(folder) not in text
    assert not Layout.of(config).report.exists()  # --output: nothing written in the stack


def test_report_shows_a_failed_verify(
    copied_outputs: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    wheels, _, args = copied_outputs
    (wheel,) = wheels.glob("idna-3.11-0-*.whl")
    wheel.write_bytes(wheel.read_bytes() + b"tampered")
    page = tmp_path / "report.html"
    result = run_cli("report", *args, "--output", page)
    assert re.search(r"verify found \d+ problem\(s\); the page lists them", result.stderr)
    text = page.read_text(encoding="utf-8")
    assert "FAILED:" in text
    assert f"&lt;wheel dir&gt;: {wheel.name} does not match the sha256 recorded for it" in text
