"""The license matcher on real license files (from wheels, Debian and CPython), with
negative controls: what it must not recognise, and what it must not conclude."""

from __future__ import annotations

from pathlib import Path

import pytest
from cyclonedx.model.license import LicenseExpression

from srcstacks.sbom.licenses import (
    component_licenses,
    conclude,
    copyright_lines,
    identify,
)
from srcstacks.sbom.metadata import DeclaredLicense

FIXTURES = Path(__file__).parent / "fixtures" / "licenses"


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("markupsafe-LICENSE.txt", ("BSD-3-Clause",)),  # numbered clauses, "Copyright 2010"
        ("idna-LICENSE.md", ("BSD-3-Clause",)),  # Markdown, with a title
        ("packaging-LICENSE.BSD", ("BSD-2-Clause",)),
        ("tomli-LICENSE", ("MIT",)),
        ("shellingham-LICENSE", ("ISC",)),  # "modify, and distribute" (older ISC wording)
        ("packaging-LICENSE.APACHE", ("Apache-2.0",)),
        ("debian-GPL-2", ("GPL-2.0",)),
        ("debian-GPL-3", ("GPL-3.0",)),
        ("debian-LGPL-2.1", ("LGPL-2.1",)),
        ("debian-LGPL-3", ("LGPL-3.0",)),
        ("debian-MPL-2.0", ("MPL-2.0",)),
        ("cpython-LICENSE.txt", ("PSF-2.0", "Python-2.0")),
    ],
)
def test_real_license_files_are_recognised(name: str, expected: tuple[str, ...]) -> None:
    assert identify(text(name)) == expected


@pytest.mark.parametrize(
    "name",
    [
        "packaging-LICENSE",  # "either of the licenses found in ...": no terms of its own
        "debian-MPL-1.1",  # a license outside the list, close to MPL-2.0
        "debian-Artistic",
    ],
)
def test_other_texts_are_not_recognised(name: str) -> None:
    assert identify(text(name)) == ()


def test_a_short_license_with_an_added_condition_is_not_that_license() -> None:
    """An MIT text with an extra clause is not MIT: the whole file must be the license."""
    mit = text("tomli-LICENSE")
    assert identify(mit + "\nTitle only\n") == ("MIT",)
    added = mit + (
        "\nThe Software may not be used to provide a commercial hosted service, and this"
        " condition shall survive any redistribution of the Software.\n"
    )
    assert identify(added) == ()


def test_a_clause_removed_is_not_recognised() -> None:
    """BSD-3-Clause without its no-endorsement clause is BSD-2-Clause, not BSD-3-Clause;
    without its disclaimer it is neither."""
    bsd3 = text("markupsafe-LICENSE.txt")
    start = bsd3.index("3.  Neither")
    end = bsd3.index("THIS SOFTWARE")
    assert identify(bsd3[:start] + bsd3[end:]) == ("BSD-2-Clause",)
    assert identify(bsd3[:end]) == ()


def test_copyright_lines_are_the_notices_not_the_license_wording() -> None:
    assert copyright_lines(text("markupsafe-LICENSE.txt")) == ["Copyright 2010 Pallets"]
    assert copyright_lines(text("idna-LICENSE.md")) == [
        "Copyright (c) 2013-2025, Kim Davies and contributors."
    ]
    # Apache's "(c) You must retain ..." clause and its "Copyright [yyyy]" template, the
    # GNU texts' own notice and "how to apply" template are no one's copyright.
    for name in ("packaging-LICENSE.APACHE", "debian-GPL-3", "debian-LGPL-2.1", "debian-MPL-2.0"):
        assert copyright_lines(text(name)) == [], name


def test_conclude_confirms_the_declared_license() -> None:
    declared = (DeclaredLicense("expression", "BSD-3-Clause"),)
    found = conclude({"licenses/LICENSE.txt": text("markupsafe-LICENSE.txt")}, declared)
    assert found.expression == "BSD-3-Clause"
    assert found.copyright == ("Copyright 2010 Pallets",)


def test_conclude_names_the_license_a_classifier_leaves_open() -> None:
    declared = (DeclaredLicense("name", "BSD License"),)
    found = conclude({"licenses/LICENSE.txt": text("markupsafe-LICENSE.txt")}, declared)
    assert found.expression == "BSD-3-Clause"


def test_conclude_keeps_a_confirmed_or_and_joins_the_rest_with_and() -> None:
    files = {
        "licenses/LICENSE.APACHE": text("packaging-LICENSE.APACHE"),
        "licenses/LICENSE.BSD": text("packaging-LICENSE.BSD"),
    }
    either = (DeclaredLicense("expression", "Apache-2.0 OR BSD-2-Clause"),)
    assert conclude(files, either).expression == "Apache-2.0 OR BSD-2-Clause"
    # Declared MIT, files say otherwise: the files win, and both must be honoured.
    assert conclude(files, (DeclaredLicense("id", "MIT"),)).expression == (
        "Apache-2.0 AND BSD-2-Clause"
    )


def test_conclude_gnu_versions() -> None:
    gpl2 = {"COPYING": text("debian-GPL-2")}
    assert conclude(gpl2, ()).expression == "GPL-2.0-only"
    later = (DeclaredLicense("expression", "GPL-2.0-or-later"),)
    assert conclude(gpl2, later).expression == "GPL-2.0-or-later"
    lesser = {"COPYING": text("debian-GPL-3"), "COPYING.LESSER": text("debian-LGPL-3")}
    assert conclude(lesser, ()).expression == "LGPL-3.0-only"  # LGPL-3.0 comes with GPL-3.0
    python = {"LICENSE": text("cpython-LICENSE.txt")}
    assert conclude(python, ()).expression == "Python-2.0"


def test_nothing_is_concluded_from_an_unrecognised_file_or_from_none() -> None:
    files = {
        "licenses/LICENSE": text("packaging-LICENSE"),
        "licenses/LICENSE.BSD": text("packaging-LICENSE.BSD"),
    }
    found = conclude(files, ())
    assert found.expression is None
    assert found.unrecognised == ("licenses/LICENSE",)
    assert found.copyright == ("Copyright (c) Donald Stufft and individual contributors.",)
    assert conclude({}, (DeclaredLicense("id", "MIT"),)).expression is None


def test_authors_and_notice_files_give_copyright_lines_but_no_license() -> None:
    files = {
        "licenses/AUTHORS.rst": "Copyright (c) 2020 Jo Doe\nJo Doe <jo@example.org>\n",
        "licenses/LICENSE": text("tomli-LICENSE"),
    }
    found = conclude(files, ())
    assert found.expression == "MIT"
    assert found.copyright == ("Copyright (c) 2020 Jo Doe", "Copyright (c) 2021 Taneli Hukkinen")


def test_component_licenses_side_by_side_or_the_concluded_expression_alone() -> None:
    named = (DeclaredLicense("name", "BSD License"),)
    licenses, left_out = component_licenses(named, "BSD-3-Clause")
    assert left_out is None
    assert [(item.acknowledgement.value, item.name or item.id) for item in licenses] == [  # type: ignore[union-attr]
        ("declared", "BSD License"),
        ("concluded", "BSD-3-Clause"),
    ]
    # CycloneDX 1.6 holds one expression alone: the declared statement is handed back.
    either = (DeclaredLicense("expression", "Apache-2.0 OR BSD-2-Clause"),)
    licenses, left_out = component_licenses(either, "Apache-2.0 OR BSD-2-Clause")
    assert [type(item) for item in licenses] == [LicenseExpression]
    assert left_out == "Apache-2.0 OR BSD-2-Clause"
    licenses, left_out = component_licenses(either, None)
    assert [type(item) for item in licenses] == [LicenseExpression] and left_out is None
