"""A wheel built with patches or settings gets a build tag naming them."""

from __future__ import annotations

from pathlib import Path

from srcstacks.build.inputs import inputs_of
from srcstacks.spec.settings import read_settings
from srcstacks.tools.build_tags import DIGEST_LENGTH, inputs_suffix


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    patches, settings = tmp_path / "patches", tmp_path / "settings"
    (patches / "markupsafe").mkdir(parents=True)
    (patches / "markupsafe" / "0001-a.patch").write_text("--- a/x\n+++ b/x\n")
    settings.mkdir()
    (settings / "pillow.yaml").write_text("env:\n  CFLAGS: -O2\n")
    return patches, settings


def test_a_project_with_neither_patches_nor_settings_keeps_fromagers_tag(tmp_path: Path) -> None:
    patches, settings = _folders(tmp_path)
    assert inputs_suffix("cpu", patches, settings, "idna", "3.11") == ""


def test_the_same_inputs_give_the_same_tag_and_any_change_another(tmp_path: Path) -> None:
    patches, settings = _folders(tmp_path)
    first = inputs_suffix("cpu", patches, settings, "MarkupSafe", "3.0.4")
    assert first.startswith("_") and len(first) == 1 + DIGEST_LENGTH
    assert first == inputs_suffix("cpu", patches, settings, "markupsafe", "3.0.4")
    # A digest after "_": the wheel file name's build tag stays "<digits><text>".
    assert first[1:].isalnum()
    patch = patches / "markupsafe" / "0001-a.patch"
    patch.write_text("--- a/x\n+++ b/x\n@@ edited\n")
    edited = inputs_suffix("cpu", patches, settings, "markupsafe", "3.0.4")
    assert edited != first
    assert inputs_suffix("gpu", patches, settings, "markupsafe", "3.0.4") != edited
    patch.write_text("--- a/x\n+++ b/x\n")  # the first patch again: the first tag
    assert inputs_suffix("cpu", patches, settings, "markupsafe", "3.0.4") == first


def test_settings_alone_give_a_tag_and_a_settings_edit_changes_it(tmp_path: Path) -> None:
    patches, settings = _folders(tmp_path)
    first = inputs_suffix("cpu", patches, settings, "pillow", "12.0.0")
    assert first
    (settings / "pillow.yaml").write_text("env:\n  CFLAGS: -O3\n")
    assert inputs_suffix("cpu", patches, settings, "pillow", "12.0.0") != first


def test_a_version_patch_folder_counts_only_for_its_version(tmp_path: Path) -> None:
    patches, settings = _folders(tmp_path)
    (patches / "idna-3.11").mkdir()
    (patches / "idna-3.11" / "0001-b.patch").write_text("--- a/y\n+++ b/y\n")
    assert inputs_suffix("cpu", patches, settings, "idna", "3.11")
    assert inputs_suffix("cpu", patches, settings, "idna", "3.10") == ""


def test_the_tag_covers_what_the_rebuild_record_compares(tmp_path: Path) -> None:
    # The inputs that make srcstacks rebuild a wheel are the ones its tag names: two
    # projects with the same recorded inputs get the same tag.
    patches, settings = _folders(tmp_path)
    (patches / "markupsafe" / "0001-a.patch").write_text("same\n")
    (patches / "jinja2").mkdir()
    (patches / "jinja2" / "0001-a.patch").write_text("same\n")
    all_settings = read_settings(settings)
    assert inputs_of("cpu", patches, all_settings, "markupsafe", "3.0.4") == inputs_of(
        "cpu", patches, all_settings, "jinja2", "3.1.6"
    )
    assert inputs_suffix("cpu", patches, settings, "markupsafe", "3.0.4") == inputs_suffix(
        "cpu", patches, settings, "jinja2", "3.1.6"
    )
