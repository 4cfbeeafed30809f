"""The build settings srcstacks ships for the hard packages (docs/build-settings/): each
is a settings file Fromager itself accepts, asking for a BLAS where the package can be
built without one."""

from __future__ import annotations

from pathlib import Path

import pytest
from fromager.packagesettings import PackageSettings

SHIPPED = Path(__file__).resolve().parent.parent / "docs" / "build-settings"


@pytest.mark.parametrize("project", ["numpy", "scipy"])
def test_fromager_reads_the_shipped_settings_and_they_name_openblas(project: str) -> None:
    settings = PackageSettings.from_string(project, (SHIPPED / f"{project}.yaml").read_text())
    setup_args = settings.config_settings["setup-args"]
    assert {"-Dblas=openblas", "-Dlapack=openblas"} <= set(setup_args)


def test_numpy_is_never_built_without_a_blas() -> None:
    settings = PackageSettings.from_string("numpy", (SHIPPED / "numpy.yaml").read_text())
    assert "-Dallow-noblas=false" in settings.config_settings["setup-args"]
