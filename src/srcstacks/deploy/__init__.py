"""``srcstacks deploy`` and ``system-deps``: the archives on a deploy host."""
