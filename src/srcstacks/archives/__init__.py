"""Stage 4, ``srcstacks archives``: the layer archives built with venvstacks."""
