"""Stage 1, ``srcstacks wheels``: every layer's dependency tree built from source with
Fromager, with the checks before and after, the scheduler and its executors."""
