"""Demo application: converts an internationalised domain name with idna.

It runs on the demo's second runtime, CPython 3.12, and says so.
"""

import sys

import idna


def main() -> None:
    name = "bücher.example"
    python = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    print(f"{name} -> {idna.encode(name).decode('ascii')} (on {python})")


if __name__ == "__main__":
    main()
