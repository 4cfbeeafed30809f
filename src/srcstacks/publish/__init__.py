"""Stage 2, ``srcstacks publish-wheels``: built wheels with their provenance into the
wheel dir or the private index, and ``collect`` from other build hosts."""
