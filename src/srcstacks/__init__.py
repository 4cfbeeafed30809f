"""srcstacks: deployable venvstacks layer archives built only from source."""

__version__ = "0.2.0"
