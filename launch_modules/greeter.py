"""Demo application: renders an HTML greeting with Jinja2's autoescaping.

markupsafe in the framework layer carries patches/markupsafe/0001-*.patch, so the
apostrophe below comes out as ``&apos;`` rather than upstream's ``&#39;``.
"""

import importlib.metadata
import importlib.util

import jinja2

TEMPLATE = "<p>Hello, {{ name }}!</p>"


def main() -> None:
    environment = jinja2.Environment(autoescape=True)
    print(environment.from_string(TEMPLATE).render(name="O'Brien <admin>"))
    compiled = importlib.util.find_spec("markupsafe._speedups") is not None
    print(
        f"markupsafe {importlib.metadata.version('markupsafe')}"
        f" ({'C speedups' if compiled else 'pure Python'})"
    )


if __name__ == "__main__":
    main()
