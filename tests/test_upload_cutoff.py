"""The spec's ``exclude-newer``: read as uv reads it, refused when it names no fixed
time, and applied to the files Fromager's own resolver lists (both pinned releases)."""

from __future__ import annotations

import datetime
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from srcstacks.errors import BuildError, ConfigError, ToolError
from srcstacks.spec.config import load_config
from srcstacks.spec.uv_settings import UploadCutoff, upload_cutoff, uv_cutoff_args
from srcstacks.tools.fromager_errors import explain_failure
from srcstacks.tools.upload_filter import (
    CUTOFF_VARIABLE,
    LEFT_OUT,
    CutoffRequest,
    before_cutoff,
)
from tests.index_server import serve_sdist

UTC = datetime.UTC
SPEC = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11.7"
requirements = ["idna"]
"""


def spec_with(tmp_path: Path, uv_table: str) -> Path:
    path = tmp_path / "venvstacks.toml"
    path.write_text(SPEC + uv_table)
    return path


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "cutoff"),
    [
        # venvstacks' sample project writes it so.
        ("2025-08-27 00:00:00+00:00", "2025-08-27T00:00:00"),
        ("2025-08-27T10:30:00Z", "2025-08-27T10:30:00"),
        ("2025-08-27T12:30:00+02:00", "2025-08-27T10:30:00"),
        # A date counts whole, as in uv: files of that day are in.
        ("2024-09-15", "2024-09-16T00:00:00"),
    ],
)
def test_the_cutoff_is_read_as_uv_reads_it(tmp_path: Path, value: str, cutoff: str) -> None:
    path = spec_with(tmp_path, f'\n[tool.uv]\nexclude-newer = "{value}"\n')
    read = load_config(path).upload_cutoff
    assert read.for_project("idna") == at(cutoff)
    assert uv_cutoff_args(read) == ["--exclude-newer", cutoff + "Z"]


def test_a_project_can_have_its_own_cutoff_or_none(tmp_path: Path) -> None:
    path = spec_with(
        tmp_path,
        '\n[tool.uv]\nexclude-newer = "2025-01-01T00:00:00Z"\n'
        '[tool.uv.exclude-newer-package]\nIDNA = "2024-09-15"\nMarkup_Safe = false\n',
    )
    cutoff = upload_cutoff(path)
    assert cutoff.for_project("idna") == at("2024-09-16T00:00:00")
    assert cutoff.for_project("markup-safe") is None
    assert cutoff.for_project("setuptools") == at("2025-01-01T00:00:00")
    assert uv_cutoff_args(cutoff) == [
        "--exclude-newer", "2025-01-01T00:00:00Z",
        "--exclude-newer-package", "idna=2024-09-16T00:00:00Z",
        "--exclude-newer-package", "markup-safe=false",
    ]  # fmt: skip
    assert cutoff.describe() == (
        "2025-01-01T00:00:00Z (idna: 2024-09-16T00:00:00Z, markup-safe: none)"
    )


def test_venvstacks_uv_toml_counts_only_without_a_tool_uv_table(tmp_path: Path) -> None:
    path = spec_with(tmp_path, "")
    assert not upload_cutoff(path)
    (tmp_path / "venvstacks.uv.toml").write_text('exclude-newer = "2025-08-27"\n')
    assert upload_cutoff(path).default == at("2025-08-28T00:00:00")
    path.write_text(SPEC + "\n[tool.uv]\nenvironments = [\"sys_platform == 'linux'\"]\n")
    assert not upload_cutoff(path)


@pytest.mark.parametrize(
    ("uv_table", "message"),
    [
        ('exclude-newer = "7 days"', "'tool.uv.exclude-newer' '7 days' is not a date or an RFC"),
        ('exclude-newer = "P7D"', "'tool.uv.exclude-newer' 'P7D' is not a date or an RFC"),
        ("exclude-newer = 2025", "'tool.uv.exclude-newer' must be a date or an RFC 3339"),
        ("exclude-newer = false", "'tool.uv.exclude-newer' must be a date or an RFC 3339"),
        ('exclude-newer = "2025-02-30"', "'tool.uv.exclude-newer' '2025-02-30' is not a date"),
        ('exclude-newer = "2025-08-27T00:00:00"', "has no time zone: end it with 'Z'"),
        ('exclude-newer-package = "idna"', "'tool.uv.exclude-newer-package' must be a table"),
        ('exclude-newer-package = { idna = "soon" }', "'tool.uv.exclude-newer-package.idna'"),
    ],
)
def test_a_cutoff_naming_no_fixed_time_is_refused_in_one_line(
    tmp_path: Path, uv_table: str, message: str
) -> None:
    path = spec_with(tmp_path, f"\n[tool.uv]\n{uv_table}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}: "), error.value
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_request_crosses_to_fromager_unchanged() -> None:
    cutoff = UploadCutoff(at("2025-08-27T00:00:00"), (("idna", None), ("six", at("2020-01-01"))))
    request = CutoffRequest(cutoff, ("https://pypi.org/simple", "http://mirror/simple"))
    again = CutoffRequest.from_env(request.to_env())
    assert again.cutoff == cutoff
    assert again.applies_to("https://pypi.org/simple/") and not again.applies_to("http://x/")


@dataclass
class Candidate:
    version: str
    upload_time: datetime.datetime | None


PYPI = "https://pypi.org/simple/"
FILES = [
    Candidate("3.9", at("2024-09-13T18:00:00")),
    Candidate("3.10", at("2024-09-15T18:07:37")),
    Candidate("3.11", at("2025-10-12T00:00:00")),
    Candidate("0.0", None),
]


def listed(
    project: str, extras: object, url: str, *args: object, **kwargs: object
) -> list[Candidate]:
    return list(FILES)


def test_files_uploaded_after_the_cutoff_or_of_no_known_age_are_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cutoff = UploadCutoff(at("2024-09-16T00:00:00"), (("six", None),))
    get = before_cutoff(listed, CutoffRequest(cutoff, ("https://pypi.org/simple",)))
    with caplog.at_level(logging.INFO):
        kept = [c.version for c in get("IDNA", set(), PYPI, override_download_url=None)]
    assert kept == ["3.9", "3.10"]
    found = LEFT_OUT.search(caplog.text)
    assert found and found["count"] == "2" and found["total"] == "4", caplog.text
    assert found["cutoff"] == "2024-09-16T00:00:00Z" and found["project"] == "IDNA"
    # Not the indexes of built wheels, and not a project whose cutoff is lifted.
    assert len(list(get("idna", set(), "http://127.0.0.1:4040/simple/"))) == 4
    assert len(list(get("six", set(), PYPI))) == 4


def test_an_unresolvable_requirement_names_the_cutoff_that_emptied_it() -> None:
    log = (
        "INFO fromager.resolver: srcstacks: exclude-newer 2024-01-01T00:00:00Z left out 3 of"
        " the 3 file(s) of idna on https://pypi.org/simple/ (uploaded later, or with no"
        " upload time)\n"
    )
    message = (
        "Unable to resolve requirement specifier idna==3.11 with constraint None using"
        " PyPI resolver searching at https://pypi.org/simple/"
    )
    failure = ToolError("fromager bootstrap failed", "/logs/bootstrap.log")
    error = explain_failure(log, [("idna", message)], "/logs/bootstrap.log", failure)
    assert isinstance(error, BuildError)
    assert str(error).startswith(
        "no source distribution on https://pypi.org/simple/ matches idna==3.11 uploaded by"
        " 2024-01-01T00:00:00Z (the spec's exclude-newer left out 3 of its 3 file(s))"
    ), error


RESOLVE = """
import sys
import srcstacks.tools.fromager_main  # noqa: F401  (installs the filter, as `-m` does)
from fromager import resolver

for candidate in resolver.get_project_from_pypi("idna", set(), sys.argv[1]):
    print(candidate.version)
"""


def test_fromagers_own_resolver_lists_only_files_uploaded_by_the_cutoff(
    tmp_path: Path,
) -> None:
    """Fromager (0.77 on 3.11, 0.101 on 3.12+) reads the upload times of a PEP 691 JSON
    page; with srcstacks' filter, a file uploaded after the cutoff is not a candidate."""
    sdist = tmp_path / "idna-3.11.tar.gz"
    sdist.write_bytes(b"not really an sdist: only listed")

    def versions(cutoff: str | None, index_url: str) -> list[str]:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        if cutoff:
            request = CutoffRequest(UploadCutoff(at(cutoff)), (index_url.rstrip("/"),))
            env[CUTOFF_VARIABLE] = request.to_env()
        result = subprocess.run(
            [sys.executable, "-c", RESOLVE, index_url], capture_output=True, text=True, env=env
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    with serve_sdist("idna", sdist, mode="json", upload_time="2025-10-12T09:00:00Z") as url:
        assert versions(None, url) == ["3.11"]  # the control: the file is there
        assert versions("2025-10-12T10:00:00", url) == ["3.11"]
        assert versions("2025-10-12T08:00:00", url) == []


def test_the_cutoff_reaches_fromager_through_the_build_stage(tmp_path: Path) -> None:
    from srcstacks.build.wheel_group import cutoff_request
    from srcstacks.spec.settings import ProjectSettings

    path = spec_with(tmp_path, '\n[tool.uv]\nexclude-newer = "2025-08-27"\n')
    config = load_config(path)
    mirror = ProjectSettings("idna", tmp_path / "idna.yaml", "", sdist_index="http://m/simple/")
    request = cutoff_request(config, {"idna": mirror})
    assert request is not None
    assert request.indexes == ("http://m/simple", "https://pypi.org/simple")
    assert json.loads(request.to_env())["cutoff"]["default"] == "2025-08-28T00:00:00Z"
    assert cutoff_request(load_config(spec_with(tmp_path, "")), {}) is None
