"""srcstacks' state and record files that more than one stage reads or writes, with
their readers: provenance, locks, run records, fingerprints, and what wheels and archives
themselves say."""
