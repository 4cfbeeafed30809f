"""Which licenses a distribution's license files hold, and their copyright lines.

Reads nothing from disk: it is given the texts of the license files a wheel ships (in its
``.dist-info/licenses/`` folder, PEP 639, or at the top of its ``.dist-info``) and
matches each against the SPDX texts of the common licenses, after normalising both the
way SPDX's matching guidelines allow (case, whitespace, punctuation, bullets and clause
numbers, copyright notices, "licence"/"license"). Short licenses are matched on their
whole text, with the copyright holder's name left open where the license names it; long
ones (Apache, GPL, LGPL, MPL, PSF) on passages that only their text holds, every one of
which must be there. No network, no guessing: a file that matches none is reported as
unrecognised, and then nothing is concluded for the distribution.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cyclonedx.model import AttachedText
from cyclonedx.model.license import (
    DisjunctiveLicense,
    License,
    LicenseAcknowledgement,
    LicenseExpression,
)
from cyclonedx.spdx import is_supported_id
from license_expression import ExpressionError, get_spdx_licensing

from srcstacks.sbom.metadata import DeclaredLicense

ANY = "zzanyzz"  # up to 15 words the license leaves to the licensor (a name, "copyright holder")
OPT = "zzoptzz"  # up to 3 optional words where published texts vary ("and/or", "the")

_MIT = f"""Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify, merge,
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
to whom the Software is furnished to do so, subject to the following conditions: The above
copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE {ANY} BE LIABLE FOR ANY
CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE,
ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE."""

_ISC = f"""Permission to use, copy, modify, {OPT} distribute this software for any purpose with or
without fee is hereby granted, provided that the above copyright notice and this permission
notice appear in all copies. THE SOFTWARE IS PROVIDED "AS IS" AND THE {ANY} DISCLAIMS ALL
WARRANTIES WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY
AND FITNESS. IN NO EVENT SHALL THE {ANY} BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, OR
CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS,
WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN
CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE."""

_BSD_START = """Redistribution and use in source and binary forms, with or without modification,
are permitted provided that the following conditions are met: Redistributions of source
code must retain the above copyright notice, this list of conditions and the following
disclaimer. Redistributions in binary form must reproduce the above copyright notice, this
list of conditions and the following disclaimer in the documentation and/or other materials
provided with the distribution."""
_BSD_NO_ENDORSEMENT = f"""Neither the name of {ANY} nor the names of {ANY} contributors may
be used to endorse or promote products derived from this software without specific prior
written permission."""
_BSD_DISCLAIMER = f"""THIS SOFTWARE IS PROVIDED BY {ANY} "AS IS" AND ANY EXPRESS OR IMPLIED
WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL {ANY} BE LIABLE FOR ANY
DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT
NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS;
OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY
OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE."""

# Whole texts: the file must hold the entire license (a title and copyright lines aside).
_WHOLE_TEXTS = {
    "MIT": _MIT,
    "ISC": _ISC,
    "BSD-2-Clause": f"{_BSD_START} {_BSD_DISCLAIMER}",
    "BSD-3-Clause": f"{_BSD_START} {_BSD_NO_ENDORSEMENT} {_BSD_DISCLAIMER}",
}

# Long licenses: passages of the SPDX text that no other license here contains.
_PASSAGES = {
    "Apache-2.0": (
        "Apache License Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "Grant of Copyright License. Subject to the terms and conditions of this License, each"
        " Contributor hereby grants to You a perpetual, worldwide, non-exclusive, no-charge,"
        " royalty-free, irrevocable copyright license to reproduce, prepare Derivative Works"
        " of, publicly display, publicly perform, sublicense, and distribute the Work and such"
        " Derivative Works in Source or Object form.",
        "Grant of Patent License. Subject to the terms and conditions of this License, each"
        " Contributor hereby grants to You a perpetual, worldwide, non-exclusive, no-charge,"
        " royalty-free, irrevocable (except as stated in this section) patent license",
        "You must give any other recipients of the Work or Derivative Works a copy of this License",
    ),
    "MPL-2.0": (
        "Mozilla Public License Version 2.0",
        "Each Contributor hereby grants You a world-wide, royalty-free, non-exclusive license",
        "Incompatible With Secondary Licenses",
    ),
    "GPL-2.0": (
        "GNU GENERAL PUBLIC LICENSE Version 2, June 1991",
        "TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION",
        "This License applies to any program or other work which contains a notice placed by"
        " the copyright holder saying it may be distributed under the terms of this General"
        " Public License.",
    ),
    "GPL-3.0": (
        "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007",
        "The GNU General Public License is a free, copyleft license for software and other"
        " kinds of works.",
        '"This License" refers to version 3 of the GNU General Public License.',
    ),
    "LGPL-2.1": (
        "GNU LESSER GENERAL PUBLIC LICENSE Version 2.1, February 1999",
        "This license, the Lesser General Public License, applies to some specially"
        " designated software packages",
    ),
    "LGPL-3.0": (
        "GNU LESSER GENERAL PUBLIC LICENSE Version 3, 29 June 2007",
        "This version of the GNU Lesser General Public License incorporates the terms and"
        " conditions of version 3 of the GNU General Public License, supplemented by the"
        " additional permissions listed below.",
    ),
    "PSF-2.0": (
        'This LICENSE AGREEMENT is between the Python Software Foundation ("PSF"), and the'
        ' Individual or Organization ("Licensee") accessing and otherwise using',
        "PSF hereby grants Licensee a nonexclusive, royalty-free, world-wide license to"
        " reproduce, analyze, test, perform and/or display publicly, prepare derivative works,"
        " distribute, and otherwise use",
    ),
    # CPython's own LICENSE: the PSF agreement and the three before it.
    "Python-2.0": (
        "BEOPEN.COM LICENSE AGREEMENT FOR PYTHON 2.0",
        "CNRI LICENSE AGREEMENT FOR PYTHON 1.6.1",
        "CWI LICENSE AGREEMENT FOR PYTHON 0.9.0 THROUGH 1.2",
    ),
}
# A license whose text includes (or comes with) another one found alongside it.
_SUPERSEDES = {"Python-2.0": "PSF-2.0", "LGPL-3.0": "GPL-3.0"}
# The GNU texts do not say "only" or "or later" (notices in the sources do).
_VERSIONED = ("GPL-2.0", "GPL-3.0", "LGPL-2.1", "LGPL-3.0")
# Files that name people or give notices, not license terms: read for copyright lines only.
_NOT_LICENSES = re.compile(r"(^|/)(AUTHORS|CONTRIBUTORS|NOTICE)[^/]*$", re.IGNORECASE)

_COPYRIGHT_START = re.compile(r"^[\s#*/;>|-]*((copyright\b|\(c\)|©).*)$", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"[<\[{]\s*(yyyy|year|name|owner|copyright|author|fullname)|\bYEAR\b", re.IGNORECASE
)
# Words a file may hold beside a short license: its title ("The MIT License (MIT)").
_TITLE_WORDS = 12
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_BULLET = re.compile(r"^\s*(?:[-*•>]+|\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)])\s+", re.IGNORECASE)


@dataclass(frozen=True)
class LicenseFile:
    """One license file a distribution ships: its path in the .dist-info, and what it holds."""

    path: str
    license_ids: tuple[str, ...]  # SPDX ids found in it; empty when unrecognised
    is_license: bool  # False for AUTHORS/NOTICE files, which carry no license terms


@dataclass(frozen=True)
class Conclusion:
    """What the license files of one distribution say."""

    expression: str | None  # SPDX expression concluded; None when no file or one unrecognised
    files: tuple[LicenseFile, ...]
    copyright: tuple[str, ...]  # the files' copyright lines, in file order, without repeats

    @property
    def unrecognised(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files if f.is_license and not f.license_ids)


def normalise(text: str) -> str:
    """``text`` as words for matching: lower case, no punctuation, bullets or copyright lines."""
    lines = []
    for line in text.splitlines():
        if _notice(line) is not None or line.strip().lower() == "all rights reserved.":
            continue
        lines.append(_BULLET.sub(" ", line))
    words = " ".join(lines).lower().replace("licence", "license").replace("&", " and ")
    words = re.sub(r"https?://", " ", words)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", words).split())


def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for word in normalise(template).split():
        if word == ANY:
            parts.append(r"(?:[a-z0-9]+ ){0,15}?")
        elif word == OPT:
            parts.append(r"(?:[a-z0-9]+ ){0,3}?")
        else:
            parts.append(re.escape(word) + " ")
    return re.compile(r"(?<![a-z0-9])" + "".join(parts))


def identify(text: str) -> tuple[str, ...]:
    """The SPDX ids of the licenses ``text`` holds, sorted (GNU ones without -only/-or-later).

    Empty when it holds none, or when a short license comes with more words than a title
    (an added condition would change the terms, so the file is not that license alone).
    """
    words = normalise(text) + " "
    long = {
        spdx_id
        for spdx_id, patterns in _PASSAGE_PATTERNS.items()
        if all(pattern.search(words) for pattern in patterns)
    }
    short, rest = set(), words
    for spdx_id, pattern in _WHOLE.items():
        if pattern.search(rest):
            short.add(spdx_id)
            rest = pattern.sub(" ", rest)
    if short and not long and len(rest.split()) > _TITLE_WORDS:
        return ()
    return tuple(sorted(short | long))


def copyright_lines(text: str) -> list[str]:
    """The ``Copyright ...`` lines of a license file, without the license's own templates."""
    found = []
    for line in text.splitlines():
        notice = _notice(line)
        if notice is None or _PLACEHOLDER.search(notice):
            continue  # not a notice, or the license's "how to apply" template
        if "free software foundation" not in notice.lower():  # the GNU texts' own notice
            found.append(notice)
    return found


def _notice(line: str) -> str | None:
    """The copyright notice ``line`` is, whitespace collapsed; None when it is none.

    "copyright notice and this permission notice" (a wrapped license sentence) and
    "(c) You must retain" (a lettered clause) are not notices: a notice has a year, or
    says "Copyright (c)".
    """
    match = _COPYRIGHT_START.match(line)
    if match is None:
        return None
    notice = " ".join(match.group(1).split())
    lowered = notice.lower()
    if lowered.startswith("copyright") and ("(c)" in lowered or "©" in notice):
        return notice
    return notice if _YEAR.search(notice) else None


def conclude(texts: Mapping[str, str], declared: Sequence[DeclaredLicense]) -> Conclusion:
    """The license expression the files ``texts`` (path -> text) support, and their copyrights.

    Several licenses are joined with AND (a licensee must honour each), unless the
    declared expression names exactly the licenses found: then the files confirm it and
    it is concluded as declared (its OR kept). A GNU license is concluded "-only" unless
    the declaration says "-or-later" for that same license.
    """
    files = tuple(_read_file(path, texts[path]) for path in sorted(texts))
    copyright: list[str] = []
    for path in sorted(texts):
        copyright.extend(line for line in copyright_lines(texts[path]) if line not in copyright)
    licenses = [f for f in files if f.is_license]
    if not licenses or any(not f.license_ids for f in licenses):
        return Conclusion(None, files, tuple(copyright))
    found = {spdx_id for f in licenses for spdx_id in f.license_ids}
    for wider, included in _SUPERSEDES.items():
        if wider in found:
            found.discard(included)
    return Conclusion(_expression(found, declared), files, tuple(copyright))


def _read_file(path: str, text: str) -> LicenseFile:
    if _NOT_LICENSES.search(path):
        return LicenseFile(path, (), is_license=False)
    return LicenseFile(path, identify(text), is_license=True)


def _expression(found: set[str], declared: Sequence[DeclaredLicense]) -> str:
    declared_ids = {
        spdx_id for item in declared if item.kind != "name" for spdx_id in _ids(item.value)
    }
    if {_family(spdx_id) for spdx_id in declared_ids} == found:
        statements = [item.value for item in declared if item.kind != "name"]
        if len(statements) == 1:
            return statements[0]
    later = {_family(i) for i in declared_ids if i.endswith(("-or-later", "+"))}
    named = sorted(
        f"{spdx_id}-or-later" if spdx_id in later else f"{spdx_id}-only"
        if spdx_id in _VERSIONED else spdx_id
        for spdx_id in found
    )  # fmt: skip
    return " AND ".join(named)


def _ids(expression: str) -> list[str]:
    """The license (and exception) ids of an SPDX expression; none if it does not parse."""
    try:
        return list(get_spdx_licensing().license_keys(expression))
    except ExpressionError:
        return []


def _family(spdx_id: str) -> str:
    return re.sub(r"(-only|-or-later|\+)$", "", spdx_id)


# CycloneDX 1.6 holds either license objects (ids, names) or exactly one expression.
_DECLARED = LicenseAcknowledgement.DECLARED
_CONCLUDED = LicenseAcknowledgement.CONCLUDED


def component_licenses(
    declared: Sequence[DeclaredLicense], concluded: str | None
) -> tuple[list[License], str | None]:
    """The ``licenses`` of a component: what it declares and what its files say.

    Both go in when CycloneDX 1.6 can hold them side by side (each a single id or a
    name). It holds only one expression, so when either is a compound expression only
    the concluded one goes in, and the declared statement is returned to be kept as a
    property (second item; None when nothing was left out).
    """
    stated = [_declared_license(item) for item in declared]
    if concluded is None:
        return stated, None
    found = as_license(concluded, _CONCLUDED)
    if any(isinstance(item, LicenseExpression) for item in [*stated, found]):
        left_out = " ; ".join(item.value for item in declared) or None
        return [found], left_out
    return [*stated, found], None


def as_license(value: str, acknowledgement: LicenseAcknowledgement) -> License:
    """An SPDX id as a license object, anything else (an expression) as an expression."""
    if is_supported_id(value):
        return DisjunctiveLicense(id=value, acknowledgement=acknowledgement)
    return LicenseExpression(value, acknowledgement=acknowledgement)


def _declared_license(declared: DeclaredLicense) -> License:
    if declared.kind == "expression":
        return as_license(declared.value, _DECLARED)
    if declared.kind == "id":
        return DisjunctiveLicense(id=declared.value, acknowledgement=_DECLARED)
    text = AttachedText(content=declared.text) if declared.text else None
    return DisjunctiveLicense(name=declared.value, text=text, acknowledgement=_DECLARED)


# Compiled once, after the functions they need.
_WHOLE = {spdx_id: _pattern(text) for spdx_id, text in _WHOLE_TEXTS.items()}
_PASSAGE_PATTERNS = {
    spdx_id: tuple(_pattern(passage) for passage in passages)
    for spdx_id, passages in _PASSAGES.items()
}
