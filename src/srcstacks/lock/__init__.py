"""Stage 3, ``srcstacks lock``: the layers locked with venvstacks against published
wheels only."""
