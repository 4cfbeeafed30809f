"""Before any wheel is built, the patches of the last build's sdists are applied to a
scratch copy: one that no longer applies stops the run before anything is built.

The end-to-end case is in ``tests/e2e/test_variants_and_conflicts.py``.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from srcstacks.build.patch_check import check_patch_paths, check_patches
from srcstacks.errors import PatchFailedError
from srcstacks.layout.fromager import FromagerDirs

SOURCE = "".join(f"line {n}\n" for n in range(1, 8))
PATCH = """--- a/demo/data.txt
+++ b/demo/data.txt
@@ -2,3 +2,3 @@
 line 2
-line 3
+line 3, patched
 line 4
"""


def last_build(tmp_path: Path) -> FromagerDirs:
    """A Fromager folder whose last build built demo 1.0 from its sdist, kept here."""
    dirs = FromagerDirs(tmp_path / "fromager")
    dirs.work_dir.mkdir(parents=True)
    url = "https://files.example/demo-1.0.tar.gz"
    dirs.build_order.write_text(json.dumps([
        {"dist": "demo", "version": "1.0", "source_url": url, "source_url_type": "sdist"}
    ]))  # fmt: skip
    sdist = dirs.downloaded_sdist(url)
    sdist.parent.mkdir(parents=True)
    with tarfile.open(sdist, "w:gz") as archive:
        data = SOURCE.encode()
        member = tarfile.TarInfo("demo-1.0/demo/data.txt")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    return dirs


def test_the_last_builds_patches_are_checked_and_one_that_no_longer_applies_stops_the_run(
    tmp_path: Path,
) -> None:
    dirs = last_build(tmp_path)
    patches = tmp_path / "patches"
    (patches / "demo").mkdir(parents=True)
    (patches / "demo" / "0001-ok.patch").write_text(PATCH)
    said: list[str] = []
    assert check_patches([dirs], {}, patches, "cpu", said.append) == 1
    assert said == ["patches: 1 patch(es) apply to the sources of the last build"]
    # Edited so that its context no longer matches: a fuzzy `patch` would still apply it.
    broken = patches / "demo" / "0001-ok.patch"
    broken.write_text(PATCH.replace(" line 2\n", " line two\n"))
    with pytest.raises(PatchFailedError) as raised:
        check_patches([dirs], {}, patches, "cpu", said.append)
    assert str(raised.value) == (
        f"patch {broken} does not apply to demo 1.0: Hunk #1 FAILED at 2 in demo/data.txt"
        " (checked before building: nothing was built)"
    )
    # The sdist itself is untouched; a project with no patch, or no sdist here, is not read.
    with tarfile.open(dirs.downloaded_sdist("https://files.example/demo-1.0.tar.gz")) as tar:
        member = tar.extractfile("demo-1.0/demo/data.txt")
        assert member is not None and member.read().decode() == SOURCE
    assert check_patches([FromagerDirs(tmp_path / "empty")], {}, patches, "cpu", said.append) == 0


def test_a_patch_naming_a_file_outside_its_tree_is_refused(tmp_path: Path) -> None:
    patches = tmp_path / "patches"
    (patches / "demo").mkdir(parents=True)
    (patches / "demo" / "0001-ok.patch").write_text(PATCH)
    check_patch_paths(patches)
    escaping = patches / "demo" / "0002-escape.patch"
    escaping.write_text(PATCH.replace("demo/data.txt", "../../etc/profile"))
    with pytest.raises(PatchFailedError) as raised:
        check_patch_paths(patches)
    assert str(raised.value).startswith(f"patch {escaping} names '../../etc/profile', a file")
