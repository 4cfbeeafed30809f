"""Print the versions of jinja2 and markupsafe this application imports."""

import importlib.metadata

import jinja2
import markupsafe

print(f"jinja2 {importlib.metadata.version('jinja2')} from {jinja2.__file__}")
print(f"markupsafe {importlib.metadata.version('markupsafe')} from {markupsafe.__file__}")
