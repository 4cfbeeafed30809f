"""The layout module: paths from text stay inside their folder; only srcstacks' folders
are ever emptied or deleted from."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.errors import OwnershipError
from srcstacks.layout.ownership import (
    OWNER_MARKER,
    claim_dir,
    discard_temporary,
    empty_dir,
    inside,
    remove_file,
    remove_owned_dir,
    remove_tree,
)


@pytest.mark.parametrize("text", ["../x", "a/../../x", "/etc/passwd", ".", "cpython@3.11.7/../.."])
def test_text_that_leaves_its_folder_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(OwnershipError, match="points outside"):
        inside(tmp_path, text, "layer name")


def test_text_that_stays_inside_is_joined(tmp_path: Path) -> None:
    assert inside(tmp_path, "cpython@3.11.7", "x") == tmp_path / "cpython@3.11.7"
    assert inside(tmp_path, "a/./b", "x") == tmp_path / "a" / "b"


def test_a_users_folder_with_files_is_never_claimed_nor_emptied(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(OwnershipError, match="holds files srcstacks did not create"):
        claim_dir(home, "rebuild scratch dir")
    with pytest.raises(OwnershipError, match="refusing to empty it"):
        empty_dir(home)
    with pytest.raises(OwnershipError, match="not inside a folder srcstacks created"):
        remove_file(home / "thesis.tex")
    assert (home / "thesis.tex").read_text() == "years of work"
    assert not (home / OWNER_MARKER).exists()


def test_an_own_folder_is_claimed_again_and_emptied(tmp_path: Path) -> None:
    scratch = claim_dir(tmp_path / "new" / "scratch", "rebuild scratch dir")
    (scratch / "old").mkdir()
    (scratch / "old" / "wheel.whl").write_bytes(b"x")
    assert claim_dir(scratch, "rebuild scratch dir") == scratch
    empty_dir(scratch)
    assert [path.name for path in scratch.iterdir()] == [OWNER_MARKER]


def test_an_empty_folder_is_claimed(tmp_path: Path) -> None:
    claim_dir(tmp_path, "work dir")
    assert (tmp_path / OWNER_MARKER).is_file()


def test_a_file_or_link_is_not_a_folder_to_claim(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OwnershipError, match="must be a folder"):
        claim_dir(tmp_path / "file", "work dir")
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(OwnershipError, match="must be a folder"):
        claim_dir(tmp_path / "link", "work dir")


def test_deleting_through_a_link_out_of_an_owned_folder_is_refused(tmp_path: Path) -> None:
    owned = claim_dir(tmp_path / "work", "work dir")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    (owned / "escape").symlink_to(outside)
    with pytest.raises(OwnershipError, match="not inside a folder srcstacks created"):
        remove_tree(owned / "escape" / "keep")
    assert (outside / "keep").exists()
    remove_tree(owned / "escape")  # the link itself is srcstacks' to remove
    assert not (owned / "escape").exists() and (outside / "keep").exists()


def test_the_owned_folder_itself_is_never_deleted(tmp_path: Path) -> None:
    owned = claim_dir(tmp_path / "work", "work dir")
    with pytest.raises(OwnershipError, match="whole srcstacks folder"):
        remove_tree(owned)


def test_only_temporary_files_are_discarded_as_temporaries(tmp_path: Path) -> None:
    temporary = tmp_path / ".app.tar.xz.1234.part"
    temporary.write_bytes(b"")
    discard_temporary(temporary)
    assert not temporary.exists()
    keep = tmp_path / "app.tar.xz"
    keep.write_bytes(b"")
    with pytest.raises(OwnershipError, match="not a srcstacks temporary file"):
        discard_temporary(keep)
    assert keep.exists()


def test_a_folder_made_for_another_purpose_is_not_claimed_as_scratch(tmp_path: Path) -> None:
    output = claim_dir(tmp_path / "artifacts", "output dir")
    (output / "app.tar.xz").write_bytes(b"published")
    with pytest.raises(OwnershipError, match="made this folder as the output dir"):
        claim_dir(output, "rebuild scratch dir", only_as=True)
    assert claim_dir(output, "output dir") == output  # its own purpose is fine
    assert (output / "app.tar.xz").read_bytes() == b"published"


def test_folders_made_inside_an_owned_folder_go_with_it(tmp_path: Path) -> None:
    scratch = claim_dir(tmp_path / "scratch", "rebuild scratch dir", only_as=True)
    wheels = claim_dir(scratch / "wheels", "wheel dir")
    (wheels / "a.whl").write_bytes(b"")
    with pytest.raises(OwnershipError, match="whole srcstacks folder"):
        remove_tree(scratch)
    empty_dir(claim_dir(scratch, "rebuild scratch dir", only_as=True))
    assert [path.name for path in scratch.iterdir()] == [OWNER_MARKER]


def test_only_a_folder_srcstacks_made_is_removed_whole(tmp_path: Path) -> None:
    scratch = claim_dir(tmp_path / "scratch", "rebuild scratch dir", only_as=True)
    (scratch / "wheels").mkdir()
    (scratch / "wheels" / "a.whl").write_bytes(b"")
    remove_owned_dir(scratch)
    assert not scratch.exists()
    users = tmp_path / "users"
    users.mkdir()
    (users / "notes.txt").write_text("mine")
    with pytest.raises(OwnershipError):
        remove_owned_dir(users)
    assert (users / "notes.txt").read_text() == "mine"
