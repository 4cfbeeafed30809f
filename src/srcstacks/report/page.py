"""Render the report as one self-contained HTML page.

Reads and writes no file: it turns a :class:`~srcstacks.report.model.StackReport` into
text. The page needs nothing else: inline CSS, the graph as inline SVG, no script, no
font, image or style sheet fetched (its Content-Security-Policy forbids them, so even
markup that slipped through could load or run nothing). Every text from an SBOM,
provenance or metadata passes through :func:`html.escape` here, once. The same report
gives the same bytes: no clock, no machine path, every list in a fixed order.
"""

from __future__ import annotations

from srcstacks.report.graph_svg import render_svg
from srcstacks.report.html import e as _e
from srcstacks.report.html import table as _table
from srcstacks.report.model import (
    DISTRIBUTION,
    NOT_BUILT_HERE,
    BuildTools,
    Component,
    Layer,
    StackReport,
    VerifyOutcome,
)
from srcstacks.report.style import CSS
from srcstacks.spec.mode import SELECTIVE

NOT_RECORDED_TEXT = "not recorded"
# How a page srcstacks wrote says so: the only file ``report --output`` overwrites.
GENERATOR_META = '<meta name="generator" content="srcstacks report">'
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'"


def render_page(report: StackReport) -> str:
    """The whole HTML document."""
    title = f"srcstacks report: {report.spec_name} (variant {report.variant})"
    body = [
        f"<h1>{_e(title)}</h1>",
        _summary(report),
        _verify_section(report.verify),
        _graph_section(report),
        *(_layer_section(layer) for layer in report.layers),
        _elsewhere_section(report),
        _licence_section(report),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            GENERATOR_META,
            f"<title>{_e(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _summary(report: StackReport) -> str:
    components = sum(len(layer.components) for layer in report.layers)
    patched = sum(1 for layer in report.layers for c in layer.components if c.patches)
    degraded = sum(1 for layer in report.layers for c in layer.components if c.degraded)
    tools = ", ".join(f"{name} {version}" for name, version in report.tools) or NOT_RECORDED_TEXT
    rows = [
        ("Spec", f"{report.spec_name} (sha256 {report.spec_sha256 or NOT_RECORDED_TEXT})"),
        ("Variant", report.variant),
        ("Built on", report.made_on or NOT_RECORDED_TEXT),
        ("Locked at (the SBOMs' timestamp)", report.made_at or NOT_RECORDED_TEXT),
        ("Layers", str(len(report.layers))),
        ("Layers built on other hosts", str(len(report.layers_elsewhere))),
        ("Components listed in the SBOMs", str(components)),
        ("Components built from patched source", str(patched)),
        ("Wheels lacking modules PyPI's binary has", str(degraded)),
        ("Parity with PyPI's binaries", _parity_text(report)),
        ("Build mode", _mode_text(report)),
        *_origin_counts(report),
        ("Built with", tools),
        ("Provenance records pinned (sha256)", report.provenance_sha256 or NOT_RECORDED_TEXT),
        ("Verify", _verify_word(report.verify)),
    ]
    return _table(("", ""), rows, cls="summary", header=False)


_PARITY_TEXT = {
    "report": "report: a wheel lacking what PyPI's binary of its version ships is named",
    "require": "require: a wheel lacking what PyPI's binary of its version ships stops the build",
    "off": "off: not compared",
}


def _parity_text(report: StackReport) -> str:
    text = _PARITY_TEXT.get(report.parity, report.parity)
    if report.parity == "require" and report.parity_exceptions:
        text += f", except {', '.join(report.parity_exceptions)} (named only)"
    return text


def _mode_text(report: StackReport) -> str:
    if report.mode != SELECTIVE:
        return f"{report.mode}: every wheel is built from source"
    always = ", ".join(report.build_from_source)
    return "selective: only what has no binary wheel for this platform is built from source" + (
        f", and always {always} (build_from_source)" if always else ""
    )


def _origin_counts(report: StackReport) -> list[tuple[str, str]]:
    """In selective mode (or when a record says so anyway), how many of each origin."""
    origins = [
        c.wheel_origin
        for layer in report.layers
        for c in layer.components
        if c.kind == DISTRIBUTION and c.wheel_origin is not None
    ]
    upstream = sum(1 for origin in origins if origin.upstream is not None)
    if report.mode != SELECTIVE and not upstream:
        return []  # full mode as it should be: the mode row says it all
    unrecorded = sum(1 for origin in origins if not origin.recorded)
    rows = [
        ("Python packages built from source", str(len(origins) - upstream - unrecorded)),
        ("Python packages taken as upstream binaries", str(upstream)),
    ]
    if unrecorded:
        rows.append(("Python packages without a provenance record", str(unrecorded)))
    return rows


def _verify_word(verify: VerifyOutcome) -> str:
    if not verify.ran:
        return "not run (--no-verify)"
    return "passed" if verify.ok else f"FAILED: {len(verify.problems)} problem(s)"


def _verify_section(verify: VerifyOutcome) -> str:
    state = "ok" if verify.ok else ("skipped" if not verify.ran else "failed")
    parts = [
        '<section id="verify">',
        "<h2>Verify result</h2>",
        f'<p class="verdict {state}">{_e(_verify_word(verify))}</p>',
    ]
    if verify.ran:
        parts.append(
            "<p>The checks of <code>srcstacks verify</code>, run when this report was made:"
            " every archive holds only published wheels with provenance, every file is"
            " accounted for, every SBOM matches its archive.</p>"
        )
        if verify.summary:
            parts.append(f"<p><code>{_e(verify.summary)}</code></p>")
        if verify.problems:
            parts.append('<ul class="problems">')
            parts.extend(f"<li>{_e(problem)}</li>" for problem in verify.problems)
            parts.append("</ul>")
    else:
        parts.append("<p>Run <code>srcstacks verify</code> to check the archives.</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _graph_section(report: StackReport) -> str:
    upstream = any(node.upstream for node in report.graph.nodes)
    patched = any(node.patched for node in report.graph.nodes)
    return "\n".join(
        [
            '<section id="graph">',
            "<h2>Dependency graph</h2>",
            "<p>One column per layer, from the runtime to the applications; a box per"
            " package the layer holds. Solid arrows: a package requires another (from its"
            " SBOM's dependencies). Dashed arrows: a layer is stacked on another."
            + (" Shaded boxes with a dashed border: upstream binaries." if upstream else "")
            + (" A thick red border: built from patched source." if patched else "")
            + "</p>",
            f'<div class="graph-box">{render_svg(report.graph)}</div>',
            "</section>",
        ]
    )


def _profiles(met: tuple[str, ...]) -> str:
    """Which minimum-element profiles an SBOM meets, as ``srcstacks sbom check`` judges."""
    if not met:
        return "no profile ('srcstacks sbom check --profile ntia' names what is missing)"
    return ", ".join(met) + " (srcstacks sbom check)"


def _layer_section(layer: Layer) -> str:
    below = ", ".join(layer.depends_on) or "nothing (the runtime)"
    parts = [
        f'<section class="layer" id="layer-{layer.node}">',
        f'<h2>Layer {_e(layer.name)} <span class="kind">{_e(layer.kind)}</span></h2>',
        _table(
            ("", ""),
            [
                ("Archive", layer.archive),
                ("Archive sha256", layer.archive_sha256 or NOT_RECORDED_TEXT),
                ("SBOM", layer.sbom_file),
                ("SBOM serial", layer.sbom_serial or NOT_RECORDED_TEXT),
                ("SBOM meets", _profiles(layer.sbom_profiles)),
                ("Attestation", layer.attestation),
                ("Stacked on", below),
            ],
            cls="facts",
            header=False,
        ),
        "<h3>Components</h3>",
        _components_table(layer.components),
        _patches(layer.components),
        _build_tools(layer.components),
        _system_libraries(layer),
        "</section>",
    ]
    return "\n".join(part for part in parts if part)


def _wheel_origin(component: Component) -> str | tuple[str, ...]:
    """Where the wheel came from, and what it lacks of the upstream binary, if anything."""
    if component.wheel_origin is None:
        return ""
    lines = (component.wheel_origin.label, *component.wheel_origin.details)
    return (*lines, f"degraded: {component.degraded}") if component.degraded else lines


def _components_table(components: tuple[Component, ...]) -> str:
    rows = [
        (
            c.name,
            c.version,
            c.kind,
            _wheel_origin(c),
            "; ".join(c.licences) or NOT_RECORDED_TEXT,
            c.supplier or NOT_RECORDED_TEXT,
            c.origin or NOT_RECORDED_TEXT,
            c.description,
        )
        for c in components
    ]
    head = (
        "Name", "Version", "What it is", "Wheel origin", "Licence", "Supplier", "Source",
        "Summary",
    )  # fmt: skip
    return _table(head, rows, cls="components", row_cls="component")


def _patches(components: tuple[Component, ...]) -> str:
    patched = [c for c in components if c.patches]
    parts = ["<h3>Patches</h3>"]
    upstream = [
        f"{c.name} {c.version}"
        for c in components
        if c.wheel_origin is not None and c.wheel_origin.upstream is not None
    ]
    if upstream:
        # Not built here, so nothing was patched here: the index's bytes, as published.
        parts.append(f"<p>No patches for {_e(', '.join(upstream))}: {_e(NOT_BUILT_HERE)}.</p>")
    if not patched:
        parts.append("<p>No component of this layer was patched.</p>")
        return "\n".join(parts)
    for component in patched:
        for patch in component.patches:
            sha256 = f" <small>sha256 {_e(patch.sha256)}</small>" if patch.sha256 else ""
            parts.append(
                f"<h4>{_e(component.name)} {_e(component.version)}:"
                f" <code>{_e(patch.path)}</code>{sha256}</h4>"
            )
            if patch.text:
                parts.append(f'<pre class="patch">{_e(patch.text)}</pre>')
            else:
                parts.append(
                    "<p>The SBOM records this patch by path and sha256 only: its file changed"
                    " after the build, so its text is not shown.</p>"
                )
    return "\n".join(parts)


def _build_tools(components: tuple[Component, ...]) -> str:
    built = [c for c in components if c.kind == DISTRIBUTION and c.build is not None]
    if not built:
        return ""
    rows = [
        (
            f"{c.name} {c.version}",
            c.wheel or NOT_RECORDED_TEXT,
            *_environment_cells(c.build),
            c.build.source if c.build else NOT_RECORDED_TEXT,
        )
        for c in built
    ]
    head = ("Distribution", "Wheel", "Build tools", "Compilers", "System packages", "Flags",
            "Recorded in")  # fmt: skip
    return "<h3>Build tools behind each wheel</h3>\n" + _table(head, rows, cls="tools")


def _environment_cells(build: BuildTools | None) -> tuple[str, str, str, str]:
    """Tools, compilers, system packages, flags; "not recorded" for all four when no
    record holds them."""
    if build is not None and build.upstream_binary:
        return (NOT_BUILT_HERE,) * 4
    environment = build.environment if build is not None else None
    if environment is None:
        return (NOT_RECORDED_TEXT,) * 4
    tools = "; ".join(
        f"{tool.name} {tool.version} ({tool.requirement_type})"
        + (f" sha256 {tool.sha256}" if tool.sha256 else "")
        for tool in environment.tools
    )
    flags = ", ".join(f"{name}={value}" for name, value in sorted(environment.env.items()))
    packages = "; ".join(
        f"{package.name} {package.version} {package.architecture} ({', '.join(package.roles)})"
        for package in environment.system_packages
    )
    # Recorded as none: a pure-Python wheel has no compilers, often no flags.
    return (
        tools or "no build requirements recorded",
        "; ".join(environment.compilers) or "none",
        packages or "none",
        flags or "none",
    )


def _system_libraries(layer: Layer) -> str:
    if not layer.system_libraries:
        return (
            "<h3>System libraries needed at deploy time</h3>\n"
            "<p>None: nothing in this archive loads a shared library it does not hold.</p>"
        )
    rows = [
        (need.soname, ", ".join(need.needed_by), need.build_machine_package or NOT_RECORDED_TEXT)
        for need in layer.system_libraries
    ]
    head = ("Library (soname)", "Needed by", "Package on the build machine")
    return (
        "<h3>System libraries needed at deploy time</h3>\n"
        "<p>Not in the archive: the machine it is deployed on must provide them.</p>\n"
        + _table(head, rows, cls="syslibs")
    )


def _elsewhere_section(report: StackReport) -> str:
    """The layers and requirements this machine locks but leaves to other build hosts."""
    here = report.build_platform or NOT_RECORDED_TEXT
    parts = ['<section id="elsewhere">', "<h2>Layers built on other hosts</h2>"]
    if report.layers_elsewhere:
        parts.append(
            f"<p>venvstacks locks every layer here, but this machine ({_e(here)}) builds"
            " no archive of these: their <code>platforms</code> leave it out, so a build"
            " host of one of those platforms builds, verifies and deploys them.</p>"
        )
        rows = [
            (
                layer.name,
                layer.kind,
                ", ".join(layer.platforms) or "none (venvstacks builds it nowhere)",
                f"locked here ({layer.lock_file})" if layer.lock_file else "not locked yet",
                "built on another host",
            )
            for layer in report.layers_elsewhere
        ]
        head = ("Layer", "Kind", "Platforms", "Lock", "Archive")
        parts.append(_table(head, rows, cls="elsewhere", row_cls="elsewhere"))
    else:
        parts.append(f"<p>None: this machine ({_e(here)}) builds an archive of every layer.</p>")
    if report.other_platform_requirements:
        parts.append(
            "<h3>Requirements only other platforms need</h3>\n<p>Their markers are false"
            f" on {_e(here)}: not built here; a lock that needs them takes the wheels other"
            " build hosts built and <code>srcstacks collect</code> brought in.</p>"
        )
        needs = [
            (item.layer, item.requirement, "; ".join(item.wheels) or "none")
            for item in report.other_platform_requirements
        ]
        needs_head = ("Layer", "Requirement", "Wheels in the wheel dir")
        parts.append(_table(needs_head, needs, cls="other-platforms"))
    parts.append("</section>")
    return "\n".join(parts)


def _licence_section(report: StackReport) -> str:
    users: dict[str, set[str]] = {}
    for layer in report.layers:
        for component in layer.components:
            for licence in component.licences or (NOT_RECORDED_TEXT,):
                label = f"{component.name} {component.version}".strip()
                users.setdefault(licence, set()).add(f"{label} [{layer.name}]")
    rows = [(licence, ", ".join(sorted(names))) for licence, names in sorted(users.items())]
    return "\n".join(
        [
            '<section id="licences">',
            "<h2>Licences</h2>",
            "<p>Each licence as the SBOMs state it, with how it was found (declared by the"
            " package, or concluded from its files).</p>",
            _table(("Licence", "Components [layer]"), rows, cls="licences"),
            "</section>",
        ]
    )
