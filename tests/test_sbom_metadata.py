"""Reading METADATA for the SBOM: licenses, URLs, authors."""

from __future__ import annotations

import pytest

from srcstacks.sbom.metadata import DeclaredLicense, declared_licenses, parse_metadata

BSD = "License :: OSI Approved :: BSD License"
MIT = "License :: OSI Approved :: MIT License"
APACHE = "License :: OSI Approved :: Apache Software License"


@pytest.mark.parametrize(
    ("expression", "classifiers", "field", "expected"),
    [
        # License-Expression wins over everything else.
        ("MIT OR Apache-2.0", [BSD], "GPL", [("expression", "MIT OR Apache-2.0")]),
        # An invalid expression is kept as the name given, not dropped.
        ("MIT-ish", [], None, [("name", "MIT-ish")]),
        # Classifiers that name one SPDX license map to it.
        (None, [MIT, "Programming Language :: Python"], None, [("id", "MIT")]),
        # An ambiguous classifier is not guessed: the License field decides...
        (None, [BSD], "BSD-3-Clause", [("id", "BSD-3-Clause")]),
        # ...an SPDX id in any case is repaired, an expression is kept as one...
        (None, [], "apache-2.0", [("id", "Apache-2.0")]),
        (None, [], "MIT OR BSD-2-Clause", [("expression", "MIT OR BSD-2-Clause")]),
        # ...anything else is a name...
        (None, [], "Dual licensed, see LICENSE", [("name", "Dual licensed, see LICENSE")]),
        # ...and with no License field, the classifier's own words are the name.
        (None, [BSD, APACHE], None, [("name", "Apache Software License"), ("name", "BSD License")]),
        (None, [BSD], "UNKNOWN", [("name", "BSD License")]),
        (None, [], None, []),
    ],
)
def test_license_rules(
    expression: str | None,
    classifiers: list[str],
    field: str | None,
    expected: list[tuple[str, str]],
) -> None:
    found = declared_licenses(expression, classifiers, field)
    assert [(item.kind, item.value) for item in found] == expected


def test_a_pasted_license_text_becomes_a_name_with_its_text() -> None:
    text = "Copyright (c) 2024 Someone\n\nPermission is hereby granted, free of charge, ..."
    (found,) = declared_licenses(None, [], text)
    assert found == DeclaredLicense("name", "Copyright (c) 2024 Someone", text=text)


METADATA = """\
Metadata-Version: 2.4
Name: Jinja2
Version: 3.1.6
Summary: A very fast and expressive template engine.
Home-page: https://example.org/home
Maintainer-email: Pallets <contact@palletsprojects.com>
Classifier: License :: OSI Approved :: BSD License
Requires-Dist: MarkupSafe>=2.0
Requires-Dist: Babel>=2.7 ; extra == "i18n"
Project-URL: Documentation, https://jinja.palletsprojects.com/
Project-URL: Source, https://github.com/pallets/jinja/
Project-URL: Issue Tracker, https://github.com/pallets/jinja/issues/
Project-URL: Donate, https://palletsprojects.com/donate
Provides-Extra: i18n

# Jinja
"""


def test_parse_metadata() -> None:
    meta = parse_metadata(METADATA)
    assert (meta.name, meta.version) == ("Jinja2", "3.1.6")
    assert meta.summary == "A very fast and expressive template engine."
    assert [(p.name, p.email) for p in meta.authors] == [("Pallets", "contact@palletsprojects.com")]
    assert meta.requires_dist == ("MarkupSafe>=2.0", 'Babel>=2.7 ; extra == "i18n"')
    assert {(url.kind, url.url) for url in meta.urls} == {
        ("documentation", "https://jinja.palletsprojects.com/"),
        ("vcs", "https://github.com/pallets/jinja/"),
        ("issue-tracker", "https://github.com/pallets/jinja/issues/"),
        ("other", "https://palletsprojects.com/donate"),
        ("website", "https://example.org/home"),
    }


def test_authors_come_before_maintainers() -> None:
    meta = parse_metadata(
        "Metadata-Version: 2.1\nName: x\nVersion: 1\nAuthor: Ann\n"
        "Author-email: Bob <bob@example.org>\nMaintainer: Max\n"
    )
    assert [(p.name, p.email) for p in meta.authors] == [("Ann", None), ("Bob", "bob@example.org")]


def test_project_urls_that_are_not_valid_uris_are_percent_encoded() -> None:
    from cyclonedx.exception.model import InvalidUriException
    from cyclonedx.model import XsUri

    from srcstacks.sbom.metadata import project_urls

    # frozenlist 1.8.0's metadata: a second "#" is not allowed in a URI, and CycloneDX
    # refused the whole SBOM for it.
    matrix = "https://matrix.to/#/#aio-libs-space:matrix.org"
    urls = project_urls({"Chat: Matrix Space": matrix, "Docs": "https://x.org/a%zz"}, None)
    by_label = {url.label: url.url for url in urls}
    assert by_label == {
        "Chat: Matrix Space": "https://matrix.to/#/%23aio-libs-space:matrix.org",
        "Docs": "https://x.org/a%25zz",
    }
    for url in urls:
        XsUri(url.url)  # accepted as is
    with pytest.raises(InvalidUriException):
        XsUri(matrix)
    assert project_urls({"Home": "https://x.org/p%20q#top"}, None)[0].url == (
        "https://x.org/p%20q#top"
    )
