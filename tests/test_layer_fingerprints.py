"""Unit tests of the per-layer fingerprints: which layers lock, archives and sbom redo.

Hand-written locks (as in test_check_locks.py) and a hand-made provenance manifest for
the demo stack's four layers; each input change must reach the layers that hold it
and no other (every check has a negative control: the layers that must stay as they
are compare equal).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from srcstacks.archives.plan import archive_components, merged_manifest
from srcstacks.errors import StateError
from srcstacks.lock.plan import layer_lock_state, needs_reset
from srcstacks.sbom.plan import sbom_components
from srcstacks.spec.config import Layer, StackConfig, load_config
from srcstacks.state.fingerprints import stamp_files
from srcstacks.state.layer_fingerprints import (
    LayerRecord,
    lower_first,
    read_layer_records,
    records_path,
    stale_reasons,
    write_layer_records,
)
from srcstacks.state.provenance import Manifest, PatchRecord
from srcstacks.state.records import BuildInfo
from tests.conftest import copy_demo_stack
from tests.test_check_locks import (
    HASHES,
    LOWER_LAYER_MARKUPSAFE,
    MANIFEST,
    MARKUPSAFE,
    wheel_entry,
    write_locks,
)

LAYERS = ("cpython-3.11", "framework-web", "app-greeter", "app-punycode")


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    config = load_config(copy_demo_stack(tmp_path))
    write_locks(config)
    return config


def _layer(config: StackConfig, name: str) -> Layer:
    return next(layer for layer in config.layers if layer.env_name == name)


def _lock_parts(config: StackConfig, manifest: Manifest = MANIFEST) -> dict[str, dict[str, str]]:
    return {
        name: layer_lock_state(config, _layer(config, name), manifest, None).components
        for name in LAYERS
    }


def _archive_parts(config: StackConfig) -> dict[str, dict[str, str]]:
    from srcstacks.state.layer_fingerprints import spec_tables

    tables = spec_tables(config)
    return {name: archive_components(config, _layer(config, name), tables) for name in LAYERS}


def _changed(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]
) -> dict[str, set[str]]:
    return {
        name: {key for key in before[name].keys() | after[name].keys()
               if before[name].get(key) != after[name].get(key)}
        for name in before
        if before[name] != after[name]
    }  # fmt: skip


def test_lower_layers_come_first(config: StackConfig) -> None:
    order = [layer.env_name for layer in lower_first(config)]
    assert order.index("cpython-3.11") < order.index("framework-web") < order.index("app-greeter")
    assert order.index("cpython-3.11") < order.index("app-punycode")
    assert sorted(order) == sorted(LAYERS)


def test_a_rebuilt_wheel_relocks_only_the_layer_that_installs_it(config: StackConfig) -> None:
    before = _lock_parts(config)
    rebuilt = Manifest(
        {**MANIFEST.wheels, MARKUPSAFE: replace(MANIFEST.wheels[MARKUPSAFE], sha256="e" * 64)}
    )
    after = _lock_parts(config, rebuilt)
    # app-greeter takes markupsafe from the framework: it pins only its name and version.
    assert _changed(before, after) == {"framework-web": {"wheel:markupsafe"}}
    state = layer_lock_state(config, _layer(config, "framework-web"), rebuilt, None)
    assert state.problems == [f"framework-web: {MARKUPSAFE} hash differs from provenance"]
    record = LayerRecord(before["framework-web"], {})
    assert stale_reasons(record, state.components, {})[0] == "wheel markupsafe changed"
    assert needs_reset(state, record)
    # Negative control: the layers that do not install it are up to date and kept.
    for name in ("cpython-3.11", "app-greeter", "app-punycode"):
        kept = layer_lock_state(config, _layer(config, name), rebuilt, None)
        assert not kept.problems and kept.components == before[name]


def test_a_lower_layer_pinning_another_version_relocks_the_layers_above(
    config: StackConfig,
) -> None:
    before = _lock_parts(config)
    write_locks(config, framework_web=wheel_entry(MARKUPSAFE, HASHES[MARKUPSAFE]).replace(
        'version = "3.0.4"', 'version = "3.0.5"'))  # fmt: skip
    after = _lock_parts(config)
    changed = _changed(before, after)
    assert changed["app-greeter"] == {"lower:framework-web"}
    assert "app-punycode" not in changed and "cpython-3.11" not in changed
    state = layer_lock_state(config, _layer(config, "app-greeter"), MANIFEST, None)
    assert needs_reset(state, LayerRecord(before["app-greeter"], {}))


def test_a_layer_never_recorded_is_left_to_venvstacks_own_check(config: StackConfig) -> None:
    state = layer_lock_state(config, _layer(config, "app-punycode"), MANIFEST, None)
    assert stale_reasons(None, state.components, {}) == ["no earlier run recorded"]
    assert not needs_reset(state, None)  # committed locks are kept if venvstacks agrees
    changed_spec = replace(state, components={**state.components, "layer": "other"})
    assert not needs_reset(changed_spec, LayerRecord(state.components, {}))


def test_a_missing_lock_is_a_reason(config: StackConfig) -> None:
    lock = config.spec_dir / "requirements" / "app-punycode" / "pylock.app-punycode.toml"
    lock.unlink()
    state = layer_lock_state(config, _layer(config, "app-punycode"), MANIFEST, None)
    assert state.problems == ["it is not locked yet"]


def test_archive_inputs_follow_the_lock_wheels_and_modules(config: StackConfig) -> None:
    before = _archive_parts(config)
    write_locks(config, framework_web=wheel_entry(MARKUPSAFE, "e" * 64))
    after = _archive_parts(config)
    assert _changed(before, after) == {"framework-web": {"lock", "wheel:markupsafe"}}
    (config.spec_dir / "launch_modules" / "punycode.py").write_text("print('edited')\n")
    edited = _archive_parts(config)
    assert _changed(after, edited) == {"app-punycode": {"module:launch_modules/punycode.py"}}


def test_a_versioned_lower_layer_rebuilds_the_layers_on_it(config: StackConfig) -> None:
    spec = config.spec_path
    spec.write_text(spec.read_text().replace('name = "web"\n', 'name = "web"\nversioned = true\n'))
    config = load_config(spec)
    meta = config.spec_dir / "requirements" / "framework-web" / "pylock.framework-web.meta.json"
    meta.write_text(json.dumps({"lock_version": 1}))
    before = _archive_parts(config)
    meta.write_text(json.dumps({"lock_version": 2}))
    after = _archive_parts(config)
    # The framework's folder name carries its lock version, which the app links to.
    assert _changed(before, after) == {
        "framework-web": {"lock"},
        "app-greeter": {"lower:framework-web"},
    }


def test_a_spec_entry_changes_only_its_layer(config: StackConfig) -> None:
    before = _archive_parts(config)
    spec = config.spec_path
    spec.write_text(
        spec.read_text().replace('requirements = ["idna==3.11"]', 'requirements = ["idna==3.10"]')
    )
    after = _archive_parts(config)
    assert _changed(before, after) == {"app-punycode": {"layer"}}
    text = spec.read_text()
    assert 'name = "srcstacks demo", url' in text
    spec.write_text(text.replace('name = "srcstacks demo", url', 'name = "someone", url'))
    # The SBOM supplier is no input of a lock or an archive.
    assert _archive_parts(config) == after
    # The xz preset is an input of every archive.
    assert "xz_preset = 1\n" in text
    spec.write_text(spec.read_text().replace("xz_preset = 1\n", "xz_preset = 6\n"))
    recompressed = _archive_parts(load_config(spec))
    assert _changed(after, recompressed) == {name: {"settings"} for name in LAYERS}


def _sbom_parts(
    config: StackConfig, build_info: BuildInfo, manifest: Manifest = MANIFEST
) -> dict[str, dict[str, str]]:
    from srcstacks.state.layer_fingerprints import spec_tables

    archives = {name: config.output_dir / f"{name}.tar.xz" for name in LAYERS}
    return {
        name: sbom_components(
            config, _layer(config, name), spec_tables(config), {"install_target": name},
            build_info, manifest, archives,
        )
        for name in LAYERS
    }  # fmt: skip


def test_sbom_inputs_follow_provenance_patches_and_lower_sboms(config: StackConfig) -> None:
    info = BuildInfo("cpu", (), layer_provenance_sha256={name: name for name in LAYERS})
    patch = (
        config.spec_dir / "patches" / "markupsafe" / "0001-escape-apostrophe-as-named-entity.patch"
    )
    relative = str(patch.relative_to(config.spec_dir))
    with_patch = replace(MANIFEST.wheels[MARKUPSAFE], patches=(PatchRecord(relative, "f"),))
    patched = Manifest({**MANIFEST.wheels, MARKUPSAFE: with_patch})
    before = _sbom_parts(config, info, patched)
    patch.write_text(patch.read_text() + "\n")
    after = _sbom_parts(config, info, patched)
    assert _changed(before, after) == {
        "framework-web": {f"patch:{patch.relative_to(config.spec_dir)}"}
    }
    config.output_dir.mkdir(parents=True)
    (config.output_dir / "framework-web.tar.xz.cdx.json").write_text("{}")
    linked = _sbom_parts(config, info, patched)
    assert _changed(after, linked) == {"app-greeter": {"lower:framework-web"}}
    # Another layer's provenance pin is no input of this layer's SBOM.
    other = replace(
        info, layer_provenance_sha256={**info.layer_provenance_sha256, "app-punycode": "x"}
    )
    assert _changed(linked, _sbom_parts(config, other, patched)) == {
        "app-punycode": {"build-record"}
    }


def test_merged_manifest_takes_rebuilt_layers_from_staging(config: StackConfig) -> None:
    def entry(name: str, sha: str) -> dict[str, object]:
        return {"layer_name": name, "archive_name": f"{name}.tar.xz", "sha": sha}

    published = {"layers": {
        "runtimes": [entry("cpython-3.11", "old")], "frameworks": [entry("framework-web", "old")],
        "applications": [entry("app-greeter", "old"), entry("app-punycode", "old")],
    }}  # fmt: skip
    staged = {"layers": {"runtimes": [], "frameworks": [entry("framework-web", "new")],
                         "applications": []}}  # fmt: skip
    merged = json.loads(merged_manifest(config, published, staged, {"framework-web"}))
    assert merged["layers"]["frameworks"] == [entry("framework-web", "new")]
    assert merged["layers"]["applications"] == published["layers"]["applications"]
    assert (
        merged_manifest(config, published, staged, set())
        == json.dumps(published, indent=2, sort_keys=True) + "\n"
    )
    with pytest.raises(StateError, match="app-greeter"):
        merged_manifest(config, published, staged, {"app-greeter"})


def test_stale_reasons_see_outputs_by_content(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.xz"
    archive.write_bytes(b"archive")
    record = LayerRecord({"lock": "1"}, stamp_files({"archive": archive}, {}))
    assert stale_reasons(record, {"lock": "1"}, {"archive": archive}) == []
    archive.touch()  # a new mtime, the same bytes: still up to date
    assert stale_reasons(record, {"lock": "1"}, {"archive": archive}) == []
    archive.write_bytes(b"edited")
    assert stale_reasons(record, {"lock": "1"}, {"archive": archive}) == [
        "its files changed or were removed since the last run"
    ]
    assert stale_reasons(record, {"lock": "2", "wheel:idna": "x"}, {})[:2] == [
        "its lock changed",
        "wheel idna added",
    ]


@pytest.mark.parametrize("text", ["", "{", "[]", '{"lock": {"x": {"components": 1}}}'])
def test_a_corrupt_layer_record_file_counts_as_no_record(config: StackConfig, text: str) -> None:
    path = records_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    assert read_layer_records(config, "lock") == {}
    write_layer_records(config, "lock", {"x": LayerRecord({"a": "b"}, {"f": ("s", 1, 2)})})
    write_layer_records(config, "sbom", {"y": LayerRecord({}, {})})
    assert read_layer_records(config, "lock") == {"x": LayerRecord({"a": "b"}, {"f": ("s", 1, 2)})}
    assert read_layer_records(config, "sbom") == {"y": LayerRecord({}, {})}


def test_lower_layer_markupsafe_fixture_is_what_venvstacks_writes() -> None:
    # The app's lock names markupsafe without a wheel: it comes from the framework.
    assert "from_lower_layer" in LOWER_LAYER_MARKUPSAFE
