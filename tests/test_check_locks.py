"""``check_locks``: a lock may name only published wheels, with the sha256 recorded for them.

Hand-written pylock files for the demo stack's four layers are checked against a
hand-made provenance manifest; each way a lock can disagree with the wheel dir is named.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.errors import ProvenanceError
from srcstacks.lock.stage import LockedWheel, check_locks
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.state.provenance import Manifest, SdistRecord, WheelProvenance
from tests.conftest import copy_demo_stack

JINJA2 = "jinja2-3.1.6-0-py3-none-any.whl"
MARKUPSAFE = "markupsafe-3.0.4-0-cp311-cp311-linux_x86_64.whl"
IDNA = "idna-3.11-0-py3-none-any.whl"
HASHES = {JINJA2: "a" * 64, MARKUPSAFE: "b" * 64, IDNA: "c" * 64}


def record(filename: str) -> WheelProvenance:
    project, version = filename.split("-")[:2]
    return WheelProvenance(
        filename=filename,
        project=project,
        version=version,
        build_tag="0",
        sha256=HASHES[filename],
        variant="cpu",
        sdist=SdistRecord(url="https://example.invalid/x.tar.gz", filename="x.tar.gz", sha256="d"),
    )


MANIFEST = Manifest({name: record(name) for name in HASHES})


def wheel_entry(filename: str, sha256: str) -> str:
    return (
        f'[[packages]]\nname = "{filename.split("-")[0]}"\nversion = "{filename.split("-")[1]}"\n'
        f'[[packages.wheels]]\npath = "../../_srcstacks/cpu/wheels/{filename}"\n'
        f'[packages.wheels.hashes]\nsha256 = "{sha256}"\n'
    )


LOWER_LAYER_MARKUPSAFE = (
    '[[packages]]\nname = "markupsafe"\nversion = "3.0.4"\n'
    "marker = \"sys_platform == 'from_lower_layer'\"\n"
)


def write_locks(config: StackConfig, **overrides: str) -> None:
    """The demo's four locks as venvstacks writes them; ``overrides`` replace one layer's."""
    locks = {
        "cpython-3.11": "packages = []\n",
        "framework-web": wheel_entry(MARKUPSAFE, HASHES[MARKUPSAFE]),
        "app-greeter": wheel_entry(JINJA2, HASHES[JINJA2]) + LOWER_LAYER_MARKUPSAFE,
        "app-punycode": wheel_entry(IDNA, HASHES[IDNA]),
    }
    locks.update({name.replace("_", "-"): text for name, text in overrides.items()})
    for env_name, body in locks.items():
        folder = config.spec_dir / "requirements" / env_name
        folder.mkdir(parents=True, exist_ok=True)
        text = f'lock-version = "1.0"\ncreated-by = "uv"\n{body}'
        (folder / f"pylock.{env_name.replace('.', '_')}.toml").write_text(text)


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return load_config(copy_demo_stack(tmp_path))


def refusal(config: StackConfig) -> str:
    with pytest.raises(ProvenanceError) as caught:
        check_locks(config, MANIFEST)
    message = str(caught.value)
    assert message.startswith(
        "the locks do not match the published wheels (run 'srcstacks lock'): "
    )
    return message


def test_locks_naming_published_wheels_pass(config: StackConfig) -> None:
    write_locks(config)
    assert sorted(check_locks(config, MANIFEST), key=lambda w: w.layer) == [
        LockedWheel("app-greeter", "jinja2", "3.1.6", JINJA2, HASHES[JINJA2]),
        LockedWheel("app-punycode", "idna", "3.11", IDNA, HASHES[IDNA]),
        LockedWheel("framework-web", "markupsafe", "3.0.4", MARKUPSAFE, HASHES[MARKUPSAFE]),
    ]


def test_wheel_that_is_not_published_is_refused(config: StackConfig) -> None:
    pypi = "idna-3.11-py3-none-any.whl"
    write_locks(config, app_punycode=wheel_entry(pypi, HASHES[IDNA]))
    assert refusal(config).endswith(f"app-punycode: {pypi} is not a published wheel")


def test_wheel_whose_hash_differs_from_provenance_is_refused(config: StackConfig) -> None:
    write_locks(config, app_greeter=wheel_entry(JINJA2, "f" * 64) + LOWER_LAYER_MARKUPSAFE)
    assert refusal(config).endswith(f"app-greeter: {JINJA2} hash differs from provenance")


def test_package_without_a_wheel_outside_a_lower_layer_is_refused(config: StackConfig) -> None:
    no_wheel = '[[packages]]\nname = "markupsafe"\nversion = "3.0.4"\n'
    write_locks(config, app_greeter=wheel_entry(JINJA2, HASHES[JINJA2]) + no_wheel)
    assert refusal(config).endswith("app-greeter: markupsafe has no wheel")


def test_every_problem_of_every_layer_is_named(config: StackConfig) -> None:
    write_locks(
        config,
        framework_web=wheel_entry(MARKUPSAFE, "0" * 64),
        app_punycode=wheel_entry("idna-3.10-0-py3-none-any.whl", HASHES[IDNA]),
    )
    message = refusal(config)
    assert f"framework-web: {MARKUPSAFE} hash differs from provenance" in message
    assert "app-punycode: idna-3.10-0-py3-none-any.whl is not a published wheel" in message


def test_a_lock_naming_another_stacks_wheel_is_stale_and_says_run_lock(
    config: StackConfig,
) -> None:
    index = "https://private-index.invalid/+simple/"

    def from_index(filename: str, sha256: str) -> str:
        return wheel_entry(filename, sha256).replace(
            'version = "', f'index = "{index}"\nversion = "', 1
        )

    upstream = "idna-3.11-py3-none-any.whl"  # a selective stack's upstream binary
    write_locks(
        config,
        framework_web=from_index(MARKUPSAFE, HASHES[MARKUPSAFE]),
        app_greeter=from_index(JINJA2, HASHES[JINJA2]) + LOWER_LAYER_MARKUPSAFE,
        app_punycode=from_index(upstream, HASHES[IDNA]),
    )
    with pytest.raises(ProvenanceError) as caught:
        check_locks(config, MANIFEST, index)
    message = str(caught.value)
    assert message == (
        "the locks do not match the published wheels (run 'srcstacks lock'):"
        f" app-punycode: {upstream} is not a published wheel"
    )
