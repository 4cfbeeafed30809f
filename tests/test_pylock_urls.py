"""Locks that name no index server: the private index's URLs made portable and back."""

from __future__ import annotations

import tomllib

from srcstacks.tools.pylock_urls import PORTABLE_BASE, portable, to_portable, to_real

BASE = "http://127.0.0.1:3917/srcstacks/cpu/"
ELSEWHERE = "http://127.0.0.1:3917/team/base/+f/123/456/six-1.17.0-0-py2.py3-none-any.whl"
LOCK = f"""lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "idna"
version = "3.11"
index = "{BASE}+simple/"

[[packages.wheels]]
url = "{BASE}+f/2a0/0ce9a857da63c/idna-3.11-0-py3-none-any.whl"

[packages.wheels.hashes]
sha256 = "2a00ce9a857da63c"

[[packages]]
name = "six"
version = "1.17.0"
index = "{BASE}+simple/"
sdist = {{ url = "{BASE}+f/aaa/bbb/six-1.17.0.tar.gz", hashes = {{ sha256 = "ab" }} }}

[[packages.wheels]]
url = "{ELSEWHERE}"

[[packages]]
name = "markupsafe"
version = "3.0.4"
marker = "sys_platform == 'from_lower_layer'"
"""


def _urls(text: str) -> list[str]:
    found = []
    for package in tomllib.loads(text)["packages"]:
        found += [package.get("index", ""), package.get("sdist", {}).get("url", "")]
        found += [wheel["url"] for wheel in package.get("wheels", [])]
    return [url for url in found if url]


def test_a_portable_lock_names_no_host_or_port_and_keeps_every_hash() -> None:
    made = to_portable(LOCK, BASE)
    assert "127.0.0.1:3917/srcstacks" not in made
    assert _urls(made) == [
        f"{PORTABLE_BASE}+simple/",
        f"{PORTABLE_BASE}+f/2a0/0ce9a857da63c/idna-3.11-0-py3-none-any.whl",
        f"{PORTABLE_BASE}+simple/",
        f"{PORTABLE_BASE}+f/aaa/bbb/six-1.17.0.tar.gz",
        ELSEWHERE,  # a file outside the index's base URL keeps its own
    ]
    assert tomllib.loads(made)["packages"][0]["wheels"][0]["hashes"] == {
        "sha256": "2a00ce9a857da63c"
    }
    assert made.count("from_lower_layer") == 1


def test_the_same_lock_made_on_any_port_or_host_is_the_same_text() -> None:
    other = "https://devpi.team.example/srcstacks/cpu/"
    assert to_portable(LOCK, BASE) == to_portable(LOCK.replace(BASE, other), other)


def test_a_build_fetches_from_the_index_it_runs_with() -> None:
    elsewhere = "http://127.0.0.1:40001/srcstacks/cpu/"
    real = to_real(to_portable(LOCK, BASE), elsewhere)
    assert real == LOCK.replace(BASE, elsewhere)
    assert to_real(to_portable(LOCK, BASE), BASE) == LOCK  # the round trip is exact


def test_only_urls_under_the_base_change() -> None:
    assert portable(BASE + "+simple/", BASE) == PORTABLE_BASE + "+simple/"
    assert portable("http://127.0.0.1:3917/srcstacks/cpu-selective/+simple/", BASE).startswith(
        "http://"
    )
