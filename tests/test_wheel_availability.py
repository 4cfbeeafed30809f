"""What has no wheel where: the description of an index's files, the table, the JSON, and
the parts of ``srcstacks missing`` that read uv's and the index's answers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from srcstacks.build.missing import Discovery, _one_line, _pins, _ProjectIndexes, render
from srcstacks.errors import IndexServerError
from srcstacks.spec.config import load_config
from srcstacks.state.wheel_availability import Gap, describe_files, render_json, render_table

PYOBJC = [
    "pyobjc_core-10.3.1-cp311-cp311-macosx_10_9_universal2.whl",
    "pyobjc_core-10.3.1-cp38-cp38-macosx_10_9_x86_64.whl",
    "pyobjc_core-10.3.1.tar.gz",
    "pyobjc_core-10.3.2-cp311-cp311-manylinux2014_x86_64.whl",  # another version
]


def test_describe_sdist_only() -> None:
    assert describe_files(["docopt-0.6.2.tar.gz"], "docopt", "0.6.2", "3.11") == "sdist only"


def test_describe_names_the_platforms_its_wheels_fit() -> None:
    described = describe_files(PYOBJC, "pyobjc-core", "10.3.1", "3.11")
    # The manylinux wheel of 10.3.2 is not a wheel of 10.3.1.
    assert described == "wheels only for macosx_arm64, macosx_x86_64"


def test_describe_wheels_for_other_pythons_only() -> None:
    files = ["m-1.0-cp39-cp39-win_amd64.whl"]
    assert describe_files(files, "m", "1.0", "3.11") == "no wheel for CPython 3.11"
    assert describe_files(files, "m", "1.0", "3.9") == "wheels only for win_amd64"


def test_describe_nothing_at_all() -> None:
    assert describe_files(["other-1.0.tar.gz"], "m", "1.0", "3.11") == "no wheel"


LAYERS = {"rt": ("linux_x86_64", "win_amd64"), "app-x": ("win_amd64",)}
GAPS = [
    Gap("app-x", "win_amd64", "zeta", "1", "sdist only"),
    Gap("app-x", "win_amd64", "alpha", "2", "wheels only for linux_x86_64"),
    Gap("rt", "linux_x86_64", "docopt", "0.6.2", "sdist only"),
]


def test_table_has_a_row_per_layer_and_platform_it_targets() -> None:
    assert render_table(LAYERS, GAPS) == [
        "layer  platform      no binary wheel",
        "rt     linux_x86_64  docopt==0.6.2 (sdist only)",
        "rt     win_amd64     -",
        "app-x  win_amd64     alpha==2 (wheels only for linux_x86_64), zeta==1 (sdist only)",
    ]


def test_table_and_json_do_not_depend_on_the_order_gaps_came_in() -> None:
    shuffled = GAPS[:]
    random.Random(4).shuffle(shuffled)
    assert shuffled != GAPS
    assert render_table(LAYERS, shuffled) == render_table(LAYERS, GAPS)
    assert render_json(LAYERS, shuffled, index="i") == render_json(LAYERS, GAPS, index="i")


def test_json_lists_every_gap_sorted() -> None:
    document = json.loads(render_json(LAYERS, GAPS, index="https://pypi.org/simple/"))
    assert document["index"] == "https://pypi.org/simple/"
    assert document["layers"] == {"rt": ["linux_x86_64", "win_amd64"], "app-x": ["win_amd64"]}
    assert [(m["layer"], m["project"]) for m in document["missing"]] == [
        ("app-x", "alpha"),
        ("app-x", "zeta"),
        ("rt", "docopt"),
    ]
    assert document["missing"][2] == {
        "layer": "rt",
        "platform": "linux_x86_64",
        "project": "docopt",
        "version": "0.6.2",
        "reason": "sdist only",
    }


def test_the_summary_counts_projects_and_pairs() -> None:
    text = render(Discovery(LAYERS, GAPS, "https://pypi.org/simple/"))
    assert text.splitlines()[-1] == (
        "3 project(s) without a binary wheel in 2 of 3 layer/platform pair(s)"
        " (index: https://pypi.org/simple/)"
    )
    empty = render(Discovery(LAYERS, [], "https://pypi.org/simple/"))
    assert "0 project(s) without a binary wheel in 0 of 3" in empty
    assert "(sdist only)" not in empty


def test_pins_read_from_uv_output() -> None:
    output = (
        "docopt==0.6.2\nidna==3.11\n    # via -r requirements.in\n"
        "PyYAML==6.0.2 ; sys_platform == 'win32'\n"
    )
    assert _pins(output) == {"docopt": "0.6.2", "idna": "3.11", "pyyaml": "6.0.2"}


def test_uv_error_in_one_line() -> None:
    stderr = (
        "  \u00d7 No solution found when resolving dependencies:\n"
        "  \u2570\u2500\u25b6 Because there is no version of docopt==99 and you require"
        " docopt==99, we can conclude that your requirements are unsatisfiable.\n"
    )
    assert _one_line(stderr) == (
        "No solution found when resolving dependencies: Because there is no version of"
        " docopt==99 and you require docopt==99, we can conclude that your requirements"
        " are unsatisfiable."
    )


def test_an_unreachable_index_is_named(tmp_path: Path) -> None:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(
        '[[runtimes]]\nname = "rt"\npython_implementation = "cpython@3.11.7"\nrequirements = []\n'
    )
    settings = tmp_path / "build-settings"
    settings.mkdir()
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    (settings / "docopt.yaml").write_text(
        "resolver_dist:\n  sdist_server_url: http://127.0.0.1:9/simple/\n"
    )
    indexes = _ProjectIndexes(load_config(spec))
    assert indexes.extra_indexes() == ["http://127.0.0.1:9/simple/"]
    with pytest.raises(IndexServerError) as caught:
        indexes.files("docopt")
    assert str(caught.value).startswith("http://127.0.0.1:9/simple/docopt/: cannot list")


def test_json_can_carry_every_resolved_pin() -> None:
    resolved = {("rt", "win_amd64"): ["b==1", "a==2"], ("rt", "linux_x86_64"): []}
    document = json.loads(render_json(LAYERS, GAPS, resolved))
    assert document["resolved"] == {
        "rt": {"linux_x86_64": [], "win_amd64": ["a==2", "b==1"]},
        "app-x": {},
    }
    assert "resolved" not in json.loads(render_json(LAYERS, GAPS))
