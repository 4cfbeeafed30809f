"""End-to-end: the view of a real devpi index that the lock sees lists only this
stack's published wheels, and its links fetch the index's own files."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from srcstacks.errors import StateError
from srcstacks.index.managed import ManagedIndex
from srcstacks.index.private import IndexLocation
from srcstacks.lock.index_view import published_only
from srcstacks.state.provenance import Manifest, SdistRecord, WheelProvenance
from tests.devpi_fixtures import tiny_wheel, upload

pytestmark = pytest.mark.e2e


def _wheel(folder: Path, project: str, build_tag: str, value: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    plain = tiny_wheel(folder, project, value=value)
    return plain.rename(plain.with_name(plain.name.replace("-1.0-", f"-1.0-{build_tag}-")))


def _record(wheel: Path, project: str) -> WheelProvenance:
    return WheelProvenance(
        filename=wheel.name,
        project=project,
        version="1.0",
        build_tag=wheel.name.split("-")[2],
        sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
        variant="cpu",
        sdist=SdistRecord(url="https://example.invalid/x.tar.gz", filename="x.tar.gz", sha256="d"),
    )


def _get(url: str, method: str = "GET") -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as reply:
        return bytes(reply.read())


def test_the_lock_sees_only_the_wheels_this_stack_published(
    devpi_index: ManagedIndex, tmp_path: Path
) -> None:
    # Two builds of one version on the index (a patch edited since), and another
    # stack's project: the view lists the published build alone.
    old = _wheel(tmp_path / "old", "viewpkg", "0_aaaa1111", value=1)
    new = _wheel(tmp_path / "new", "viewpkg", "0_bbbb2222", value=2)
    other = _wheel(tmp_path / "other", "viewother", "0", value=3)
    for wheel in (old, new, other):
        assert upload(devpi_index, wheel) == 200
    location = IndexLocation.parse(devpi_index.base_url)
    manifest = Manifest({new.name: _record(new, "viewpkg")})

    with published_only(location, manifest) as view:
        assert view.simple_url == view.base_url + "+simple/"  # devpi's shape, kept
        page = _get(view.simple_url + "viewpkg/").decode()
        assert new.name in page and old.name not in page
        assert f"#sha256={_record(new, 'viewpkg').sha256}" in page
        link = page.split('href="')[1].split("#")[0]
        assert link.startswith("../../+f/")  # the file's path under the index's base URL
        fetched = _get(urllib.parse.urljoin(view.simple_url + "viewpkg/", link))
        assert fetched == new.read_bytes()
        assert _get(view.simple_url + "ViewPkg/", method="HEAD") == b""
        with pytest.raises(urllib.error.HTTPError, match="404"):
            _get(view.simple_url + "viewother/")  # on the index, not published here
    # Negative control: the index's own page offers both builds.
    own_page = _get(location.simple_url + "viewpkg/").decode()
    assert old.name in own_page and new.name in own_page


def test_a_published_wheel_the_index_lacks_stops_the_lock_naming_the_fix(
    devpi_index: ManagedIndex, tmp_path: Path
) -> None:
    missing = _wheel(tmp_path, "viewmissing", "0", value=4)
    manifest = Manifest({missing.name: _record(missing, "viewmissing")})
    location = IndexLocation.parse(devpi_index.base_url)
    with pytest.raises(StateError) as caught, published_only(location, manifest):
        pass
    message = str(caught.value)
    assert message.startswith(f"{missing.name} is not on {location.simple_url}")
    assert message.endswith("run 'srcstacks publish-wheels' (or 'srcstacks build')")
