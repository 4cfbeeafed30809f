"""Escapes a string with markupsafe's C extension and says which Python and module ran."""

import platform
from pathlib import Path

import markupsafe
from markupsafe import _speedups


def main() -> None:
    escaped = markupsafe.escape("<O'Brien>")
    print(f"{platform.python_version()}: {escaped} ({Path(_speedups.__file__).name})")


if __name__ == "__main__":
    main()
