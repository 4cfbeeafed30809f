"""Uses one project of each origin: docopt and six built here, idna and MarkupSafe upstream."""

import docopt
import idna
import markupsafe
import six
from markupsafe import _speedups  # the compiled extension of the upstream binary wheel

if __name__ == "__main__":
    arguments = docopt.docopt("Usage: cli_app <name>", argv=["bücher"])
    host = idna.encode(arguments["<name>"] + ".example").decode()
    print(f"cli: {host} {markupsafe.escape('<b>')} {_speedups.__name__} six {six.__version__}")
