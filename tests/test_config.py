"""Config parsing: the spec's layers, [tool.srcstacks], overrides, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.config import Overrides, load_config
from srcstacks.errors import ConfigError

SPEC = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11.7"
requirements = []

[[frameworks]]
name = "fw"
runtime = "rt"
requirements = ["markupsafe"]

[[applications]]
name = "app"
launch_module = "app.py"
frameworks = ["fw"]
requirements = ["jinja2>=3"]
"""


def write(tmp_path: Path, text: str) -> Path:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(text)
    return spec


def test_defaults_are_relative_to_the_spec(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SPEC))
    assert config.settings_dir == tmp_path / "build-settings"
    assert config.patches_dir == tmp_path / "patches"
    assert config.variant == "cpu"
    assert config.wheel_dir == tmp_path / "_srcstacks" / "cpu" / "wheels"
    assert config.output_dir == tmp_path / "_srcstacks" / "cpu" / "artifacts"
    assert config.runtime.kind == "download"
    assert [layer.env_name for layer in config.layers] == ["rt", "framework-fw", "app-app"]
    assert config.layer("app").depends_on == ("framework-fw",)
    assert [layer.name for layer in config.stack_of(config.layer("app"))] == ["app", "fw", "rt"]


def test_a_folder_means_its_venvstacks_toml(tmp_path: Path) -> None:
    write(tmp_path, SPEC)
    assert load_config(tmp_path).spec_path == tmp_path / "venvstacks.toml"


def test_tool_table_and_overrides(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        SPEC
        + '\n[tool.srcstacks]\nvariant = "hardened"\nwheel_dir = "w"\n'
        + '[tool.srcstacks.runtime]\nsource = "local"\npath = "rt.tar.gz"\n',
    )
    config = load_config(spec)
    assert config.variant == "hardened"
    assert config.wheel_dir == tmp_path / "w"
    assert config.runtime.path == tmp_path / "rt.tar.gz"
    overridden = load_config(spec, Overrides(variant="fast", output_dir=Path("/tmp/out")))
    assert overridden.variant == "fast"
    assert overridden.wheel_dir == tmp_path / "w"  # explicitly configured: kept
    assert overridden.output_dir == Path("/tmp/out")


def test_variant_override_moves_default_dirs(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SPEC), Overrides(variant="hardened"))
    assert config.wheel_dir == tmp_path / "_srcstacks" / "hardened" / "wheels"
    assert config.output_dir == tmp_path / "_srcstacks" / "hardened" / "artifacts"


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        ('\n[tool.srcstacks]\nsettings = "x"\n', "unknown key 'tool.srcstacks.settings'"),
        ("\n[tool.srcstacks]\nvariant = 3\n", "'tool.srcstacks.variant' must be a string"),
        ('\n[tool.srcstacks]\nvariant = "a/b"\n', "variant 'a/b'"),
        ('\n[tool.srcstacks.runtime]\nsource = "ftp"\n', "must be one of"),
        ('\n[tool.srcstacks.runtime]\nsource = "local"\n', "needs 'path'"),
        ('\n[tool.srcstacks.runtime]\nsource = "mirror"\n', "needs 'mirror_url'"),
        ('\n[tool.srcstacks.runtime]\nurl = "x"\n', "tool.srcstacks.runtime.url"),
    ],
)
def test_tool_table_errors_name_the_key(tmp_path: Path, addition: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"venvstacks\.toml") as error:
        load_config(write(tmp_path, SPEC + addition))
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('runtime = "rt"', 'runtime = "rt2"', "unknown runtime layer 'rt2'"),
        ('frameworks = ["fw"]', 'frameworks = ["nope"]', "unknown framework layer 'nope'"),
        ('requirements = ["markupsafe"]', 'requirements = ["marku psafe"]', "invalid requirement"),
        ('"cpython@3.11.7"', '"3.11"', "python_implementation"),
        ('frameworks = ["fw"]', "frameworks = []", "needs 'runtime' or a non-empty"),
    ],
)
def test_layer_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, SPEC.replace(old, new)))
    assert expected in str(error.value)


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_config(write(tmp_path, SPEC + "\n[[runtimes]\n"))


def test_sbom_table(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        SPEC
        + "\n[tool.srcstacks.sbom]\n"
        + 'supplier = "ACME builds"\n'
        + 'manufacturer = { name = "ACME", url = "https://acme.example",'
        + ' email = "a@acme.example" }\n'
        + 'authors = ["Jo", { name = "Sam", email = "sam@acme.example" }]\n',
    )
    sbom = load_config(spec).sbom
    assert sbom.supplier is not None and sbom.supplier.name == "ACME builds"
    assert sbom.manufacturer is not None
    assert (sbom.manufacturer.url, sbom.manufacturer.email) == (
        "https://acme.example",
        "a@acme.example",
    )
    assert [(author.name, author.email) for author in sbom.authors] == [
        ("Jo", None),
        ("Sam", "sam@acme.example"),
    ]


def test_sbom_table_defaults_to_nobody(tmp_path: Path) -> None:
    sbom = load_config(write(tmp_path, SPEC)).sbom
    assert sbom.supplier is None and sbom.manufacturer is None and sbom.authors == ()


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('suplier = "x"', "unknown key 'tool.srcstacks.sbom.suplier'"),
        ("supplier = 3", "'tool.srcstacks.sbom.supplier' must be a string or a table, not int"),
        ('authors = "Jo"', "'tool.srcstacks.sbom.authors' must be a list, not str"),
        ("authors = [3]", "'tool.srcstacks.sbom.authors[0]' must be a string or a table"),
        ('supplier = { name = "x", phone = "1" }', "tool.srcstacks.sbom.supplier.phone"),
        ('supplier = { url = "https://x" }', "'tool.srcstacks.sbom.supplier' needs a non-empty"),
        ('manufacturer = { name = "x", url = 1 }', "'tool.srcstacks.sbom.manufacturer.url'"),
    ],
)
def test_sbom_table_errors_name_the_key(tmp_path: Path, table: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"venvstacks\.toml") as error:
        load_config(write(tmp_path, SPEC + "\n[tool.srcstacks.sbom]\n" + table + "\n"))
    assert expected in str(error.value)


def test_sbom_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'tool\.srcstacks\.sbom' must be a table"):
        load_config(write(tmp_path, SPEC + '\n[tool.srcstacks]\nsbom = "x"\n'))
